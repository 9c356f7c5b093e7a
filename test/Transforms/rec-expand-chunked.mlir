// RUN: seq-opt %s --rec-expand-chunked --canonicalize --cse | FileCheck %s

// The sequences are zero-padded to whole chunks (16 steps; copied only when
// T is not a multiple of 16) and viewed as
// [B, T/16, 16, H, X]; a recurrence over the chunks carries the [H, K, V]
// state. Each chunk: the cumulative log decays b (a running sum over the
// chunk's steps, each written to its row), the scores
// A[h, i, j] = sum_k q[i,h,k] k[j,h,k] exp(b[i,h,k] - b[j,h,k]) for j <= i
// (factorised as (q exp(b)) (k exp(-b))^T when no key's total log decay
// b[15] is below -40, exact otherwise),
// the reads A v + (q exp(b)) S, and the state exp(b[15]) S + sum_j (k[j]
// exp(b[15] - b[j])) v[j]^T, the decays applied to q and k before the
// contractions with the state. The reads are trimmed back to T steps.
// The factorised scores read k exp(-b) as [H, K, C], so that their column
// j is contiguous (the CPU lowering's matmul tiles load vectors along it).
// CHECK-DAG: #[[$J_H_K_TO_H_K_J:.*]] = affine_map<(d0, d1, d2) -> (d1, d2, d0)>
// CHECK-DAG: #[[$KT_IN_SCORES:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-DAG: #[[$H_I_J:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG: #[[$Q_IN_SCORES:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d0, d3)>
// CHECK-DAG: #[[$K_IN_SCORES:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d0, d3)>
// CHECK-LABEL: func.func @chunked
//  CHECK-SAME: (%[[Q:[^:]*]]: tensor<?x?x2x8xf32>, %[[K:[^:]*]]: tensor<?x?x2x8xf32>, %[[V:[^:]*]]: tensor<?x?x2x4xf32>, %[[G:[^:]*]]: tensor<?x?x2x8xf32>, %[[S0:[^:]*]]: tensor<?x2x8x4xf32>)
//       CHECK: %[[B:.*]] = tensor.dim %[[K]], %c0
//       CHECK: %[[T:.*]] = tensor.dim %[[K]], %c1
//       CHECK: %[[CHUNKS:.*]] = arith.ceildivui %[[T]], %c16
//       CHECK: %[[PADDED:.*]] = arith.muli %[[CHUNKS]], %c16
//       CHECK: %[[WHOLE:.*]] = arith.cmpi eq, %[[PADDED]], %[[T]]
//       CHECK: %[[QP:.*]] = scf.if %[[WHOLE]] -> (tensor<?x?x2x8xf32>) {
//       CHECK:   scf.yield %[[Q]]
//       CHECK: } else {
//       CHECK:   %[[EMPTY:.*]] = tensor.empty(%[[B]], %[[PADDED]]) : tensor<?x?x2x8xf32>
//       CHECK:   %[[ZEROS:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[EMPTY]]
//       CHECK:   %[[QCOPY:.*]] = tensor.insert_slice %[[Q]] into %[[ZEROS]][0, 0, 0, 0] [%[[B]], %[[T]], 2, 8]
//       CHECK:   scf.yield %[[QCOPY]]
//       CHECK: %[[QC:.*]] = tensor.expand_shape %[[QP]] {{\[}}[0], [1, 2], [3], [4]] output_shape [%[[B]], %[[CHUNKS]], 16, 2, 8]
//       CHECK: %[[OUT:.*]]:2 = rec.recurrence batch %[[B]] length %[[CHUNKS]] inits(%[[S0]] : tensor<?x2x8x4xf32>)
//  CHECK-SAME:   -> (tensor<?x2x8x4xf32>, tensor<?x?x16x2x4xf32>)
//       CHECK: ^bb0(%[[S:[^:]*]]: tensor<2x8x4xf32>, %[[QT:[^:]*]]: tensor<16x2x8xf32>, %[[KT:[^:]*]]: tensor<16x2x8xf32>, %[[VT:[^:]*]]: tensor<16x2x4xf32>, %[[GT:[^:]*]]: tensor<16x2x8xf32>):
//       CHECK:   %[[CUM:.*]]:2 = scf.for %[[I:[^ ]*]] = %c0 to %c16 step %c1 iter_args(%[[RUNNING:[^ ]*]] = %{{.*}}, %[[ROWS:[^ ]*]] = %{{.*}}) -> (tensor<2x8xf32>, tensor<16x2x8xf32>)
//       CHECK:     %[[GROW:.*]] = tensor.extract_slice %[[GT]][%[[I]], 0, 0] [1, 2, 8]
//       CHECK:     %[[TARGET:.*]] = tensor.extract_slice %[[ROWS]][%[[I]], 0, 0] [1, 2, 8]
//       CHECK:     %[[SUM:.*]]:2 = linalg.generic {{.*}} ins(%[[GROW]] : tensor<2x8xf32>) outs(%[[RUNNING]], %[[TARGET]] : tensor<2x8xf32>, tensor<2x8xf32>)
//       CHECK:       %[[ADDED:.*]] = arith.addf
//       CHECK:       linalg.yield %[[ADDED]], %[[ADDED]]
//       CHECK:     %[[WRITTEN:.*]] = tensor.insert_slice %[[SUM]]#1 into %[[ROWS]][%[[I]], 0, 0] [1, 2, 8]
//       CHECK:     scf.yield %[[SUM]]#0, %[[WRITTEN]]
//       CHECK:   %[[LAST:.*]] = tensor.extract_slice %[[CUM]]#1[15, 0, 0] [1, 2, 8] [1, 1, 1] : tensor<16x2x8xf32> to tensor<2x8xf32>
//       CHECK:   %[[SMALLEST:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]} ins(%[[LAST]]
//       CHECK:   %[[TOTAL:.*]] = tensor.extract %[[SMALLEST]][]
//       CHECK:   %[[MILD:.*]] = arith.cmpf oge, %[[TOTAL]], %{{.*}} : f32
//       CHECK:   %[[SCORES:.*]] = scf.if %[[MILD]] -> (tensor<2x16x16xf32>) {
//       CHECK:     %[[QS:.*]] = linalg.generic {{.*}} ins(%[[QT]], %[[CUM]]#1
//       CHECK:       math.exp
//       CHECK:     %[[KS:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #[[$J_H_K_TO_H_K_J]]], {{.*}} ins(%[[KT]], %[[CUM]]#1 : {{.*}}) outs(%{{.*}} : tensor<2x8x16xf32>)
//       CHECK:       arith.negf
//       CHECK:       math.exp
//       CHECK:     %[[RAW:.*]] = linalg.generic {indexing_maps = [#[[$Q_IN_SCORES]], #[[$KT_IN_SCORES]], #[[$H_I_J]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[QS]], %[[KS]]
//   CHECK-NOT:       math.exp
//       CHECK:     %[[MASKED:.*]] = linalg.generic {{.*}} ins(%[[RAW]]
//       CHECK:       arith.cmpi ule
//       CHECK:     scf.yield %[[MASKED]]
//       CHECK:   } else {
//       CHECK:     %[[EXACT:.*]] = linalg.generic {indexing_maps = [#[[$Q_IN_SCORES]], #[[$K_IN_SCORES]], #[[$Q_IN_SCORES]], #[[$K_IN_SCORES]], #[[$H_I_J]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[QT]], %[[KT]], %[[CUM]]#1, %[[CUM]]#1 : {{.*}}) outs(%{{.*}} : tensor<2x16x16xf32>)
//       CHECK:       arith.subf
//       CHECK:       math.exp
//       CHECK:       arith.cmpi ule
//       CHECK:     scf.yield %[[EXACT]]
//       CHECK:   %[[INSIDE:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ins(%[[SCORES]], %[[VT]] : {{.*}}) outs(%{{.*}} : tensor<16x2x4xf32>)
//       CHECK:   %[[QDECAYED:.*]] = linalg.generic {{.*}} ins(%[[QT]], %[[CUM]]#1 : {{.*}}) outs(%{{.*}} : tensor<16x2x8xf32>)
//       CHECK:     math.exp
//       CHECK:   %[[READS:.*]] = linalg.generic {{.*}} ins(%[[QDECAYED]], %[[S]] : {{.*}}) outs(%[[INSIDE]] : tensor<16x2x4xf32>)
//   CHECK-NOT:     math.exp
//       CHECK:   %[[LASTDECAY:.*]] = linalg.generic {{.*}} ins(%[[LAST]] : {{.*}}) outs(%{{.*}} : tensor<2x8xf32>)
//       CHECK:     math.exp
//       CHECK:   %[[DECAYED:.*]] = linalg.generic {{.*}} ins(%[[LASTDECAY]], %[[S]] : {{.*}}) outs(%{{.*}} : tensor<2x8x4xf32>)
//       CHECK:   %[[KTOEND:.*]] = linalg.generic {{.*}} ins(%[[KT]], %[[LAST]], %[[CUM]]#1 : {{.*}}) outs(%{{.*}} : tensor<16x2x8xf32>)
//       CHECK:     math.exp
//       CHECK:   %[[NEXT:.*]] = linalg.generic {{.*}} ins(%[[KTOEND]], %[[VT]] : {{.*}}) outs(%[[DECAYED]] : tensor<2x8x4xf32>)
//   CHECK-NOT:     math.exp
//       CHECK:   rec.yield %[[NEXT]], %[[READS]]
//       CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[OUT]]#1 {{\[}}[0], [1, 2], [3], [4]]
//       CHECK: %[[TRIMMED:.*]] = tensor.extract_slice %[[FLAT]][0, 0, 0, 0] [%[[B]], %[[T]], 2, 4]
//       CHECK: return %[[TRIMMED]], %[[OUT]]#0
func.func @chunked(%q: tensor<?x?x2x8xf32>, %k: tensor<?x?x2x8xf32>, %v: tensor<?x?x2x4xf32>,
                   %g: tensor<?x?x2x8xf32>, %s0: tensor<?x2x8x4xf32>)
    -> (tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>) {
  %r, %sT = rec.chunked %q, %k, %v, log_decays %g, init %s0 {chunk_size = 16 : i64}
      : tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>
  return %r, %sT : tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>
}
