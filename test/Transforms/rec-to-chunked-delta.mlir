// RUN: seq-opt %s --rec-to-chunked="chunk-size=16" --canonicalize --cse | FileCheck %s

// Gated DeltaNet's update, S' = a S + k (v - a S^T k)^T (a per head): the
// keys are k and the values v (the recurrence's own inputs, out of their
// broadcasts), the decays a (spread over the keys), and the correction keys
// w = a k (the scale of the correction folded into its key); under the check that no decay is negative, rec.chunked_delta gets
// the log decays floored at -30, and what is left of the recurrence adds
// each step's read to the read's initial value; otherwise the original
// recurrence runs.
// CHECK-LABEL: rec.model @delta
//  CHECK-SAME: (%[[B:[^:]*]]: index, %[[T:[^:]*]]: index, %[[Q:[^:]*]]: tensor<?x?x2x4xf32>, %[[K:[^:]*]]: tensor<?x?x2x4xf32>, %[[V:[^:]*]]: tensor<?x?x2x3xf32>, %[[A:[^:]*]]: tensor<?x?x2xf32>, %[[S0:[^:]*]]: tensor<?x2x4x3xf32>)
//       CHECK: %[[PARTS:.*]]:2 = rec.recurrence batch %[[B]] length %[[T]] inputs(%[[K]], %[[A]] :
//       CHECK:   ^bb0(%[[KT:[^:]*]]: tensor<2x4xf32>, %[[AT:[^:]*]]: tensor<2xf32>):
//       CHECK:   %[[DECAYS:.*]] = linalg.broadcast ins(%[[AT]] : tensor<2xf32>) {{.*}} dimensions = [1]
//       CHECK:   %[[CORRECTIONS:.*]] = arith.mulf %[[KT]], %[[DECAYS]] : tensor<2x4xf32>
//       CHECK:   rec.yield %[[DECAYS]], %[[CORRECTIONS]]
//       CHECK: %[[OK:.*]] = arith.cmpf oge
//       CHECK: %[[RESULTS:.*]]:2 = scf.if %[[OK]]
//       CHECK:   %[[LOGS:.*]] = math.log %[[PARTS]]#0
//       CHECK:   %[[FLOORED:.*]] = arith.maximumf %[[LOGS]]
//       CHECK:   %[[READS:.*]], %[[FINAL:.*]] = rec.chunked_delta %[[Q]], %[[K]], %[[PARTS]]#1, %[[V]], log_decays %[[FLOORED]], init %[[S0]] {chunk_size = 16 : i64}
//       CHECK:   %[[REST:.*]] = rec.recurrence batch %[[B]] length %[[T]] inputs(%[[READS]] : tensor<?x?x2x3xf32>)
//   CHECK-NOT:     linalg.broadcast
//       CHECK:     arith.addf
//       CHECK:   scf.yield %[[FINAL]], %[[REST]]
//       CHECK: } else {
//       CHECK:   rec.chunk_fallback_report
//       CHECK:   rec.recurrence batch %[[B]] length %[[T]] inits(%[[S0]]
//   CHECK-NOT:   rec.chunked_delta
//       CHECK: rec.return %[[RESULTS]]#1, %[[RESULTS]]#0
#map = affine_map<(d0, d1, d2) -> (d0, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
#map2 = affine_map<(d0, d1, d2) -> (d0, d1)>
module {
  rec.model @delta(%B: index, %T: index, %q: tensor<?x?x2x4xf32>, %k: tensor<?x?x2x4xf32>, %v: tensor<?x?x2x3xf32>, %a: tensor<?x?x2xf32>, %S_init: tensor<?x2x4x3xf32>) -> (tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>) attributes {dims = {K = 4 : i64, NH = 2 : i64, V = 3 : i64}, input_names = ["q", "k", "v", "a"], output_names = ["o"], param_names = [], state_init = array<f64: 0.000000e+00>, state_names = ["S"]} {
    %S_final, %o = rec.recurrence batch %B length %T inits(%S_init : tensor<?x2x4x3xf32>) inputs(%q, %k, %v, %a : tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x3xf32>, tensor<?x?x2xf32>) -> (tensor<?x2x4x3xf32>, tensor<?x?x2x3xf32>) {
    ^bb0(%S: tensor<2x4x3xf32>, %q_t: tensor<2x4xf32>, %k_t: tensor<2x4xf32>, %v_t: tensor<2x3xf32>, %a_t: tensor<2xf32>):
      %expanded = tensor.expand_shape %a_t [[0, 1, 2]] output_shape [2, 1, 1] : tensor<2xf32> into tensor<2x1x1xf32>
      %collapsed = tensor.collapse_shape %expanded [[0, 1, 2]] : tensor<2x1x1xf32> into tensor<2xf32>
      %0 = tensor.empty() : tensor<2x4x3xf32>
      %broadcasted = linalg.broadcast ins(%collapsed : tensor<2xf32>) outs(%0 : tensor<2x4x3xf32>) dimensions = [1, 2] 
      %1 = arith.mulf %broadcasted, %S : tensor<2x4x3xf32>
      %expanded_0 = tensor.expand_shape %k_t [[0], [1, 2]] output_shape [2, 4, 1] : tensor<2x4xf32> into tensor<2x4x1xf32>
      %expanded_1 = tensor.expand_shape %a_t [[0, 1]] output_shape [2, 1] : tensor<2xf32> into tensor<2x1xf32>
      %2 = tensor.empty() : tensor<2x3xf32>
      %cst = arith.constant 0.000000e+00 : f32
      %3 = linalg.fill ins(%cst : f32) outs(%2 : tensor<2x3xf32>) -> tensor<2x3xf32>
      %4 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%k_t, %S : tensor<2x4xf32>, tensor<2x4x3xf32>) outs(%3 : tensor<2x3xf32>) {
      ^bb0(%in: f32, %in_10: f32, %out: f32):
        %15 = arith.mulf %in, %in_10 : f32
        %16 = arith.addf %out, %15 : f32
        linalg.yield %16 : f32
      } -> tensor<2x3xf32>
      %collapsed_2 = tensor.collapse_shape %expanded_1 [[0, 1]] : tensor<2x1xf32> into tensor<2xf32>
      %5 = tensor.empty() : tensor<2x3xf32>
      %broadcasted_3 = linalg.broadcast ins(%collapsed_2 : tensor<2xf32>) outs(%5 : tensor<2x3xf32>) dimensions = [1] 
      %6 = arith.mulf %broadcasted_3, %4 : tensor<2x3xf32>
      %7 = arith.subf %v_t, %6 : tensor<2x3xf32>
      %expanded_4 = tensor.expand_shape %7 [[0], [1, 2]] output_shape [2, 1, 3] : tensor<2x3xf32> into tensor<2x1x3xf32>
      %collapsed_5 = tensor.collapse_shape %expanded_0 [[0], [1, 2]] : tensor<2x4x1xf32> into tensor<2x4xf32>
      %8 = tensor.empty() : tensor<2x4x3xf32>
      %broadcasted_6 = linalg.broadcast ins(%collapsed_5 : tensor<2x4xf32>) outs(%8 : tensor<2x4x3xf32>) dimensions = [2] 
      %collapsed_7 = tensor.collapse_shape %expanded_4 [[0], [1, 2]] : tensor<2x1x3xf32> into tensor<2x3xf32>
      %9 = tensor.empty() : tensor<2x4x3xf32>
      %broadcasted_8 = linalg.broadcast ins(%collapsed_7 : tensor<2x3xf32>) outs(%9 : tensor<2x4x3xf32>) dimensions = [1] 
      %10 = arith.mulf %broadcasted_6, %broadcasted_8 : tensor<2x4x3xf32>
      %11 = arith.addf %1, %10 : tensor<2x4x3xf32>
      %12 = tensor.empty() : tensor<2x3xf32>
      %cst_9 = arith.constant 0.000000e+00 : f32
      %13 = linalg.fill ins(%cst_9 : f32) outs(%12 : tensor<2x3xf32>) -> tensor<2x3xf32>
      %14 = linalg.generic {indexing_maps = [#map, #map1, #map2], iterator_types = ["parallel", "parallel", "reduction"]} ins(%q_t, %11 : tensor<2x4xf32>, tensor<2x4x3xf32>) outs(%13 : tensor<2x3xf32>) {
      ^bb0(%in: f32, %in_10: f32, %out: f32):
        %15 = arith.mulf %in, %in_10 : f32
        %16 = arith.addf %out, %15 : f32
        linalg.yield %16 : f32
      } -> tensor<2x3xf32>
      rec.yield %11, %14 : tensor<2x4x3xf32>, tensor<2x3xf32>
    }
    rec.return %o, %S_final : tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>
  }
}
