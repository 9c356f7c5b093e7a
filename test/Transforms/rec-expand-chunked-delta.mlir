// RUN: seq-opt %s --rec-expand-chunked --canonicalize --cse | FileCheck %s

// The delta rule in chunks of 16: the five sequences are zero-padded to
// whole chunks (identity steps) and a recurrence over the chunks carries the
// [H, K, V] state. Each chunk: the per-head log decays g (key 0 of each
// row), their inclusive cumulative sums b and the sums before each step
// p = b - g; L[h, t, i] = exp(p[t] - b[i]) w[t] . k[i] for i < t; forward
// substitution, row by row, of (I + L) U = V and (I + L) (-W') = -exp(p) W
// (with -L, as multiply-adds: X[t] += -L[t] X); the corrections
// D = U + (-W') S0; the reads
// sum_{j <= i} exp(b[i] - b[j]) (q[i] . k[j]) D[j] + (exp(b[i]) q[i]) S0; and
// the state exp(b[15]) S0 + sum_j (exp(b[15] - b[j]) k[j]) D[j]^T. The
// keys are read as [H, K, C] in L and the scores, so that column i is
// contiguous for the CPU lowering's matmul tiles.
// CHECK-DAG: #[[$W_IN_L:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d0, d3)>
// CHECK-DAG: #[[$KT_IN_L:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-DAG: #[[$TO_H_K_I:.*]] = affine_map<(d0, d1, d2) -> (d1, d2, d0)>
// CHECK-LABEL: func.func @delta
//  CHECK-SAME: (%[[Q:[^:]*]]: tensor<?x?x2x4xf32>, %[[K:[^:]*]]: tensor<?x?x2x4xf32>, %[[W:[^:]*]]: tensor<?x?x2x4xf32>, %[[V:[^:]*]]: tensor<?x?x2x3xf32>, %[[G:[^:]*]]: tensor<?x?x2x4xf32>, %[[S0:[^:]*]]: tensor<?x2x4x3xf32>)
//       CHECK: %[[CHUNKS:.*]] = arith.ceildivui %{{.*}}, %c16
//       CHECK: %[[OUT:.*]]:2 = rec.recurrence batch %{{.*}} length %[[CHUNKS]] inits(%[[S0]] : tensor<?x2x4x3xf32>)
//  CHECK-SAME:   -> (tensor<?x2x4x3xf32>, tensor<?x?x16x2x3xf32>)
//       CHECK: ^bb0(%[[S:[^:]*]]: tensor<2x4x3xf32>, %[[QT:[^:]*]]: tensor<16x2x4xf32>, %[[KT:[^:]*]]: tensor<16x2x4xf32>, %[[WT:[^:]*]]: tensor<16x2x4xf32>, %[[VT:[^:]*]]: tensor<16x2x3xf32>, %[[GT:[^:]*]]: tensor<16x2x4xf32>):
//       CHECK:   %[[PERHEAD:.*]] = tensor.extract_slice %[[GT]][0, 0, 0] [16, 2, 1] [1, 1, 1] : tensor<16x2x4xf32> to tensor<16x2xf32>
//       CHECK:   %[[CUM:.*]]:2 = scf.for %{{.*}} = %c0 to %c16 step %c1 iter_args({{.*}}) -> (tensor<2xf32>, tensor<16x2xf32>)
//       CHECK:     tensor.extract_slice %[[PERHEAD]]
//       CHECK:     arith.addf
//       CHECK:   %[[BEFORE:.*]] = linalg.generic {{.*}} ins(%[[CUM]]#1, %[[PERHEAD]]
//       CHECK:     arith.subf
//       CHECK:   %[[LAST:.*]] = tensor.extract_slice %[[CUM]]#1[15, 0] [1, 2] [1, 1] : tensor<16x2xf32> to tensor<2xf32>
//       CHECK:   %[[KEYST:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #[[$TO_H_K_I]]], {{.*}} ins(%[[KT]] : tensor<16x2x4xf32>) outs(%{{.*}} : tensor<2x4x16xf32>)
//       CHECK:   %[[OVERLAPS:.*]] = linalg.generic {indexing_maps = [#[[$W_IN_L]], #[[$KT_IN_L]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[WT]], %[[KEYST]]
//       CHECK:   %[[LOWER:.*]] = linalg.generic {{.*}} ins(%[[OVERLAPS]], %[[BEFORE]], %[[CUM]]#1
//       CHECK:     arith.cmpi ult
//       CHECK:     math.exp
//       CHECK:     arith.negf
//       CHECK:   %[[RHS:.*]] = linalg.generic {{.*}} ins(%[[WT]], %[[BEFORE]]
//       CHECK:     math.exp
//       CHECK:     arith.negf
//       CHECK:   %[[SOLVED:.*]]:2 = scf.for %[[ROW:.*]] = %c0 to %c16 step %c1 iter_args(%[[U:.*]] = %[[VT]], %[[WP:.*]] = %[[RHS]])
//       CHECK:     %[[LROW:.*]] = tensor.extract_slice %[[LOWER]][0, %[[ROW]], 0] [2, 1, 16]
//       CHECK:     %[[UOWN:.*]] = tensor.extract_slice %[[U]][%[[ROW]], 0, 0] [1, 2, 3]
//       CHECK:     %[[UROW:.*]] = linalg.generic {{.*}} ins(%[[LROW]], %[[U]] : {{.*}}) outs(%[[UOWN]]
//       CHECK:       arith.mulf
//       CHECK:       arith.addf
//       CHECK:     %[[UNEXT:.*]] = tensor.insert_slice %[[UROW]] into %[[U]][%[[ROW]], 0, 0] [1, 2, 3]
//       CHECK:     %[[WOWN:.*]] = tensor.extract_slice %[[WP]][%[[ROW]], 0, 0] [1, 2, 4]
//       CHECK:     %[[WROW:.*]] = linalg.generic {{.*}} ins(%[[LROW]], %[[WP]] : {{.*}}) outs(%[[WOWN]]
//       CHECK:     %[[WNEXT:.*]] = tensor.insert_slice %[[WROW]] into %[[WP]][%[[ROW]], 0, 0] [1, 2, 4]
//       CHECK:     scf.yield %[[UNEXT]], %[[WNEXT]]
//       CHECK:   %[[DELTAS:.*]] = linalg.generic {{.*}} ins(%[[SOLVED]]#1, %[[S]] : {{.*}}) outs(%[[SOLVED]]#0
//       CHECK:     arith.mulf
//       CHECK:     arith.addf
//       CHECK:   %[[RAW:.*]] = linalg.generic {indexing_maps = [#[[$W_IN_L]], #[[$KT_IN_L]], {{.*}}], {{.*}} ins(%[[QT]], %[[KEYST]]
//       CHECK:   %[[SCORES:.*]] = linalg.generic {{.*}} ins(%[[RAW]], %[[CUM]]#1, %[[CUM]]#1
//       CHECK:     math.exp
//       CHECK:     arith.cmpi ule
//       CHECK:   %[[INSIDE:.*]] = linalg.generic {{.*}} ins(%[[SCORES]], %[[DELTAS]]
//       CHECK:   %[[QDECAYED:.*]] = linalg.generic {{.*}} ins(%[[QT]], %[[CUM]]#1 :
//       CHECK:     math.exp
//       CHECK:   %[[READS:.*]] = linalg.generic {{.*}} ins(%[[QDECAYED]], %[[S]] : {{.*}}) outs(%[[INSIDE]]
//       CHECK:   %[[DECAYED:.*]] = linalg.generic {{.*}} ins(%[[LAST]], %[[S]]
//       CHECK:   %[[KTOEND:.*]] = linalg.generic {{.*}} ins(%[[KT]], %[[LAST]], %[[CUM]]#1 :
//       CHECK:     math.exp
//       CHECK:   %[[NEXT:.*]] = linalg.generic {{.*}} ins(%[[KTOEND]], %[[DELTAS]] : {{.*}}) outs(%[[DECAYED]]
//       CHECK:   rec.yield %[[NEXT]], %[[READS]]
//       CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[OUT]]#1
//       CHECK: %[[TRIMMED:.*]] = tensor.extract_slice %[[FLAT]][0, 0, 0, 0]
//       CHECK: return %[[TRIMMED]], %[[OUT]]#0
func.func @delta(%q: tensor<?x?x2x4xf32>, %k: tensor<?x?x2x4xf32>, %w: tensor<?x?x2x4xf32>, %v: tensor<?x?x2x3xf32>, %g: tensor<?x?x2x4xf32>, %s0: tensor<?x2x4x3xf32>) -> (tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>) {
  %r, %sT = rec.chunked_delta %q, %k, %w, %v, log_decays %g, init %s0 {chunk_size = 16 : i64}
      : tensor<?x?x2x4xf32>, tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>
  return %r, %sT : tensor<?x?x2x3xf32>, tensor<?x2x4x3xf32>
}
