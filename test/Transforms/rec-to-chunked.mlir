// RUN: seq-opt %s --rec-to-chunked="chunk-size=16" --canonicalize --cse --split-input-file | FileCheck %s

// A decay per head. The keys, values and decays of every step come out of
// the step in the canonical [H, K] / [H, V] layout: the broadcasts of the
// outer product are taken apart (the key and value are then the
// recurrence's own inputs, the decay a per-head value spread over the
// keys), and the query is the recurrence's own input. A call with a
// negative (or NaN) decay runs the original recurrence after reporting it;
// otherwise rec.chunked gets the log decays floored at -30, and what is left
// of the recurrence adds each step's read to the read's initial value.
// CHECK-LABEL: rec.model @tiny
//  CHECK-SAME: (%[[B:[^:]*]]: index, %[[T:[^:]*]]: index, %[[Q:[^:]*]]: tensor<?x?x2x4xf32>, %[[K:[^:]*]]: tensor<?x?x2x4xf32>, %[[V:[^:]*]]: tensor<?x?x2x3xf32>, %[[A:[^:]*]]: tensor<?x?x2xf32>, %[[S0:[^:]*]]: tensor<?x2x4x3xf32>)
//       CHECK: %[[DECAYS:.*]] = rec.recurrence batch %[[B]] length %[[T]] inputs(%[[A]] : tensor<?x?x2xf32>) -> (tensor<?x?x2x4xf32>)
//       CHECK:   %[[BA:.*]] = linalg.broadcast ins(%[[AT:[^ ]*]] : tensor<2xf32>) {{.*}} dimensions = [1]
//   CHECK-NOT:   tensor.extract_slice
//       CHECK:   rec.yield %[[BA]]
//       CHECK: %[[SMALLEST:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction", "reduction", "reduction"]} ins(%[[DECAYS]]
//       CHECK:   arith.minimumf
//       CHECK: %[[MIN:.*]] = tensor.extract %[[SMALLEST]][]
//       CHECK: %[[OK:.*]] = arith.cmpf oge, %[[MIN]], %cst
//       CHECK: %[[RESULTS:.*]]:2 = scf.if %[[OK]]
//       CHECK:   %[[LOGS:.*]] = math.log %[[DECAYS]]
//       CHECK:   %[[FLOORED:.*]] = arith.maximumf %[[LOGS]]
//       CHECK:   %[[READS:.*]], %[[FINAL:.*]] = rec.chunked %[[Q]], %[[K]], %[[V]], log_decays %[[FLOORED]], init %[[S0]] {chunk_size = 16 : i64}
//       CHECK:   %[[REST:.*]] = rec.recurrence batch %[[B]] length %[[T]] inputs(%[[READS]] : tensor<?x?x2x3xf32>)
//       CHECK:     arith.addf
//       CHECK:   scf.yield %[[FINAL]], %[[REST]]
//       CHECK: } else {
//       CHECK:   rec.chunk_fallback_report
//       CHECK:   %[[ORIGINAL:.*]]:2 = rec.recurrence batch %[[B]] length %[[T]] inits(%[[S0]]
//   CHECK-NOT:   rec.chunked
//       CHECK:   scf.yield %[[ORIGINAL]]#0, %[[ORIGINAL]]#1
//       CHECK: rec.return %[[RESULTS]]#1, %[[RESULTS]]#0
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
module {
  rec.model @tiny(%B: index, %T: index, %q: tensor<?x?x2x4xf32>, %k: tensor<?x?x2x4xf32>, %v: tensor<?x?x2x3xf32>, %a: tensor<?x?x2xf32>, %S_init: tensor<?x2x4x3xf32>) -> (tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>) attributes {dims = {K = 4 : i64, NH = 2 : i64, V = 3 : i64}, input_names = ["q", "k", "v", "a"], output_names = ["o"], param_names = [], state_init = array<f64: 0.000000e+00>, state_names = ["S"]} {
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<2x4x3xf32>
    %1 = tensor.empty() : tensor<2x3xf32>
    %2 = linalg.fill ins(%cst : f32) outs(%1 : tensor<2x3xf32>) -> tensor<2x3xf32>
    %S_final, %o = rec.recurrence batch %B length %T inits(%S_init : tensor<?x2x4x3xf32>) inputs(%q, %a, %k, %v : tensor<?x?x2x4xf32>, tensor<?x?x2xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x3xf32>) -> (tensor<?x2x4x3xf32>, tensor<?x?x2x3xf32>) {
    ^bb0(%S: tensor<2x4x3xf32>, %q_t: tensor<2x4xf32>, %a_t: tensor<2xf32>, %k_t: tensor<2x4xf32>, %v_t: tensor<2x3xf32>):
      %broadcasted = linalg.broadcast ins(%a_t : tensor<2xf32>) outs(%0 : tensor<2x4x3xf32>) dimensions = [1, 2] 
      %3 = arith.mulf %broadcasted, %S : tensor<2x4x3xf32>
      %broadcasted_0 = linalg.broadcast ins(%k_t : tensor<2x4xf32>) outs(%0 : tensor<2x4x3xf32>) dimensions = [2] 
      %broadcasted_1 = linalg.broadcast ins(%v_t : tensor<2x3xf32>) outs(%0 : tensor<2x4x3xf32>) dimensions = [1] 
      %4 = arith.mulf %broadcasted_0, %broadcasted_1 : tensor<2x4x3xf32>
      %5 = arith.addf %3, %4 : tensor<2x4x3xf32>
      %6 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%q_t, %5 : tensor<2x4xf32>, tensor<2x4x3xf32>) outs(%2 : tensor<2x3xf32>) {
      ^bb0(%in: f32, %in_2: f32, %out: f32):
        %7 = arith.mulf %in, %in_2 : f32
        %8 = arith.addf %out, %7 : f32
        linalg.yield %8 : f32
      } -> tensor<2x3xf32>
      rec.yield %5, %6 : tensor<2x4x3xf32>, tensor<2x3xf32>
    }
    rec.return %o, %S_final : tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>
  }
}

// -----

// No decay (linear attention): no check, no fallback, zero log decays.
// CHECK-LABEL: rec.model @no_decay
//   CHECK-NOT: scf.if
//   CHECK-NOT: rec.chunk_fallback_report
//       CHECK: %[[ZEROS:.*]] = linalg.fill ins(%cst{{.*}} : f32) outs(%{{.*}} : tensor<?x?x2x4xf32>)
//       CHECK: rec.chunked %{{.*}}, %{{.*}}, %{{.*}}, log_decays %[[ZEROS]], init
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
module {
  rec.model @no_decay(%B: index, %T: index, %q: tensor<?x?x2x4xf32>, %k: tensor<?x?x2x4xf32>, %v: tensor<?x?x2x3xf32>, %a: tensor<?x?x2xf32>, %S_init: tensor<?x2x4x3xf32>) -> (tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>) attributes {dims = {K = 4 : i64, NH = 2 : i64, V = 3 : i64}, input_names = ["q", "k", "v", "a"], output_names = ["o"], param_names = [], state_init = array<f64: 0.000000e+00>, state_names = ["S"]} {
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<2x4x3xf32>
    %1 = tensor.empty() : tensor<2x3xf32>
    %2 = linalg.fill ins(%cst : f32) outs(%1 : tensor<2x3xf32>) -> tensor<2x3xf32>
    %S_final, %o = rec.recurrence batch %B length %T inits(%S_init : tensor<?x2x4x3xf32>) inputs(%q, %a, %k, %v : tensor<?x?x2x4xf32>, tensor<?x?x2xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x3xf32>) -> (tensor<?x2x4x3xf32>, tensor<?x?x2x3xf32>) {
    ^bb0(%S: tensor<2x4x3xf32>, %q_t: tensor<2x4xf32>, %a_t: tensor<2xf32>, %k_t: tensor<2x4xf32>, %v_t: tensor<2x3xf32>):
      %broadcasted_0 = linalg.broadcast ins(%k_t : tensor<2x4xf32>) outs(%0 : tensor<2x4x3xf32>) dimensions = [2] 
      %broadcasted_1 = linalg.broadcast ins(%v_t : tensor<2x3xf32>) outs(%0 : tensor<2x4x3xf32>) dimensions = [1] 
      %4 = arith.mulf %broadcasted_0, %broadcasted_1 : tensor<2x4x3xf32>
      %5 = arith.addf %S, %4 : tensor<2x4x3xf32>
      %6 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%q_t, %5 : tensor<2x4xf32>, tensor<2x4x3xf32>) outs(%2 : tensor<2x3xf32>) {
      ^bb0(%in: f32, %in_2: f32, %out: f32):
        %7 = arith.mulf %in, %in_2 : f32
        %8 = arith.addf %out, %7 : f32
        linalg.yield %8 : f32
      } -> tensor<2x3xf32>
      rec.yield %5, %6 : tensor<2x4x3xf32>, tensor<2x3xf32>
    }
    rec.return %o, %S_final : tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>
  }
}

// -----

// Left alone: a vector state.
// CHECK-LABEL: rec.model @vector
//   CHECK-NOT: rec.chunked
//       CHECK: rec.recurrence {{.*}} inits
rec.model @vector(%B: index, %T: index, %x: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>)
      inputs(%x : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x_t: tensor<4xf32>):
    %hn = arith.addf %h, %x_t : tensor<4xf32>
    rec.yield %hn, %hn : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}
