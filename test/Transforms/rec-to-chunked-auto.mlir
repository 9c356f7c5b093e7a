// RUN: seq-opt %s --rec-to-chunked="chunk-size=64 auto-rule" --canonicalize --cse --split-input-file | FileCheck %s
// RUN: seq-opt %s --rec-to-chunked="chunk-size=32 auto-rule" --canonicalize --cse --split-input-file | FileCheck %s --check-prefix=CAP

// What --form auto takes on the CPU (auto-rule). Heads of 4 keys and 3
// values: chunks of 16 steps (the smallest auto chunk); calls of fewer than
// 8 chunks (T < 128) run a copy of the original recurrence, before any of
// the chunked path's work.
// CHECK-LABEL: rec.model @small_heads
//  CHECK-SAME: (%[[B:[^:]*]]: index, %[[T:[^:]*]]: index, %[[Q:[^:]*]]: tensor<?x?x2x4xf32>, %[[K:[^:]*]]: tensor<?x?x2x4xf32>, %[[V:[^:]*]]: tensor<?x?x2x3xf32>, %[[S0:[^:]*]]: tensor<?x2x4x3xf32>)
//   CHECK-DAG: %[[MIN:.*]] = arith.constant 128 : index
//       CHECK: %[[LONG:.*]] = arith.cmpi sge, %[[T]], %[[MIN]] : index
//       CHECK: %[[RESULTS:.*]]:2 = scf.if %[[LONG]]
//       CHECK:   %[[READS:.*]], %[[FINAL:.*]] = rec.chunked %[[Q]], %[[K]], %[[V]], log_decays %{{.*}}, init %[[S0]] {chunk_size = 16 : i64}
//       CHECK:   %[[REST:.*]] = rec.recurrence batch %[[B]] length %[[T]] inputs(%[[READS]] : tensor<?x?x2x3xf32>)
//       CHECK:   scf.yield %[[FINAL]], %[[REST]]
//       CHECK: } else {
//   CHECK-NOT:   func.call
//       CHECK:   %[[ORIGINAL:.*]]:2 = rec.recurrence batch %[[B]] length %[[T]] inits(%[[S0]] : tensor<?x2x4x3xf32>) inputs(%[[Q]], %[[K]], %[[V]]
//   CHECK-NOT:   rec.chunked
//       CHECK:   scf.yield %[[ORIGINAL]]#0, %[[ORIGINAL]]#1
//       CHECK: rec.return %[[RESULTS]]#1, %[[RESULTS]]#0
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
module {
  rec.model @small_heads(%B: index, %T: index, %q: tensor<?x?x2x4xf32>, %k: tensor<?x?x2x4xf32>, %v: tensor<?x?x2x3xf32>, %S_init: tensor<?x2x4x3xf32>) -> (tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>) attributes {dims = {K = 4 : i64, NH = 2 : i64, V = 3 : i64}, input_names = ["q", "k", "v"], output_names = ["o"], param_names = [], state_init = array<f64: 0.000000e+00>, state_names = ["S"]} {
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<2x4x3xf32>
    %1 = tensor.empty() : tensor<2x3xf32>
    %2 = linalg.fill ins(%cst : f32) outs(%1 : tensor<2x3xf32>) -> tensor<2x3xf32>
    %S_final, %o = rec.recurrence batch %B length %T inits(%S_init : tensor<?x2x4x3xf32>) inputs(%q, %k, %v : tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x3xf32>) -> (tensor<?x2x4x3xf32>, tensor<?x?x2x3xf32>) {
    ^bb0(%S: tensor<2x4x3xf32>, %q_t: tensor<2x4xf32>, %k_t: tensor<2x4xf32>, %v_t: tensor<2x3xf32>):
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

// 32 keys and 48 values: chunks of the larger head axis rounded up to a
// power of two, 64, for calls of T >= 512; at most chunk-size (32 with
// the second RUN line, for T >= 256).
// CHECK-LABEL: rec.model @wide_heads
//       CHECK: arith.constant 512 : index
//       CHECK: rec.chunked {{.*}} {chunk_size = 64 : i64}
// CAP-LABEL: rec.model @wide_heads
//       CAP: arith.constant 256 : index
//       CAP: rec.chunked {{.*}} {chunk_size = 32 : i64}
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
module {
  rec.model @wide_heads(%B: index, %T: index, %q: tensor<?x?x2x32xf32>, %k: tensor<?x?x2x32xf32>, %v: tensor<?x?x2x48xf32>, %S_init: tensor<?x2x32x48xf32>) -> (tensor<?x?x2x48xf32>, tensor<?x2x32x48xf32>) attributes {dims = {K = 32 : i64, NH = 2 : i64, V = 48 : i64}, input_names = ["q", "k", "v"], output_names = ["o"], param_names = [], state_init = array<f64: 0.000000e+00>, state_names = ["S"]} {
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<2x32x48xf32>
    %1 = tensor.empty() : tensor<2x48xf32>
    %2 = linalg.fill ins(%cst : f32) outs(%1 : tensor<2x48xf32>) -> tensor<2x48xf32>
    %S_final, %o = rec.recurrence batch %B length %T inits(%S_init : tensor<?x2x32x48xf32>) inputs(%q, %k, %v : tensor<?x?x2x32xf32>, tensor<?x?x2x32xf32>, tensor<?x?x2x48xf32>) -> (tensor<?x2x32x48xf32>, tensor<?x?x2x48xf32>) {
    ^bb0(%S: tensor<2x32x48xf32>, %q_t: tensor<2x32xf32>, %k_t: tensor<2x32xf32>, %v_t: tensor<2x48xf32>):
      %broadcasted_0 = linalg.broadcast ins(%k_t : tensor<2x32xf32>) outs(%0 : tensor<2x32x48xf32>) dimensions = [2]
      %broadcasted_1 = linalg.broadcast ins(%v_t : tensor<2x48xf32>) outs(%0 : tensor<2x32x48xf32>) dimensions = [1]
      %4 = arith.mulf %broadcasted_0, %broadcasted_1 : tensor<2x32x48xf32>
      %5 = arith.addf %S, %4 : tensor<2x32x48xf32>
      %6 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%q_t, %5 : tensor<2x32xf32>, tensor<2x32x48xf32>) outs(%2 : tensor<2x48xf32>) {
      ^bb0(%in: f32, %in_2: f32, %out: f32):
        %7 = arith.mulf %in, %in_2 : f32
        %8 = arith.addf %out, %7 : f32
        linalg.yield %8 : f32
      } -> tensor<2x48xf32>
      rec.yield %5, %6 : tensor<2x32x48xf32>, tensor<2x48xf32>
    }
    rec.return %o, %S_final : tensor<?x?x2x48xf32>, tensor<?x2x32x48xf32>
  }
}

// -----

// Beside a state that is not elementwise-affine (h = tanh(h * v)), auto
// leaves the cell as it is (--form chunk would take S and run h
// sequentially).
// CHECK-LABEL: rec.model @beside_a_nonlinear_state
//   CHECK-NOT: rec.chunked
//   CHECK-NOT: scf.if
//       CHECK: rec.recurrence
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
module {
  rec.model @beside_a_nonlinear_state(%B: index, %T: index, %q: tensor<?x?x2x4xf32>, %k: tensor<?x?x2x4xf32>, %v: tensor<?x?x2x3xf32>, %S_init: tensor<?x2x4x3xf32>, %h_init: tensor<?x2x3xf32>) -> (tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>, tensor<?x2x3xf32>) attributes {dims = {K = 4 : i64, NH = 2 : i64, V = 3 : i64}, input_names = ["q", "k", "v"], output_names = ["o"], param_names = [], state_init = array<f64: 0.000000e+00, 0.000000e+00>, state_names = ["S", "h"]} {
    %cst = arith.constant 0.000000e+00 : f32
    %0 = tensor.empty() : tensor<2x4x3xf32>
    %1 = tensor.empty() : tensor<2x3xf32>
    %2 = linalg.fill ins(%cst : f32) outs(%1 : tensor<2x3xf32>) -> tensor<2x3xf32>
    %S_final, %h_final, %o = rec.recurrence batch %B length %T inits(%S_init, %h_init : tensor<?x2x4x3xf32>, tensor<?x2x3xf32>) inputs(%q, %k, %v : tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x3xf32>) -> (tensor<?x2x4x3xf32>, tensor<?x2x3xf32>, tensor<?x?x2x3xf32>) {
    ^bb0(%S: tensor<2x4x3xf32>, %h: tensor<2x3xf32>, %q_t: tensor<2x4xf32>, %k_t: tensor<2x4xf32>, %v_t: tensor<2x3xf32>):
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
      %9 = arith.mulf %h, %v_t : tensor<2x3xf32>
      %10 = math.tanh %9 : tensor<2x3xf32>
      %11 = arith.addf %6, %10 : tensor<2x3xf32>
      rec.yield %5, %10, %11 : tensor<2x4x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
    }
    rec.return %o, %S_final, %h_final : tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>, tensor<?x2x3xf32>
  }
}
