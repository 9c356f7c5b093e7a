// RUN: seq-opt %s --rec-expand-chunked --canonicalize --cse --split-input-file | FileCheck %s

// Per-step queries under a window of 20 steps, in chunks of 16: the
// sequences are zero-padded to whole chunks; one parallel iteration per
// (row, query chunk, head) loops over the key chunks from the one holding
// its first query's window start (max(0, first + 1 - 20) / 16) to its own,
// keeping the running max (from the lowest f32), the normaliser and the
// weighted sum; a key is visible when it is not after the query and less
// than 20 steps before it. Each iteration writes sum / normaliser into its
// rows, and the result is trimmed back to T steps.
// CHECK-DAG: #[[$I_K:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$J_K:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[$I_J:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @tiled
//  CHECK-SAME: (%[[Q:[^:]*]]: tensor<?x?x2x4xf32>, %[[K:[^:]*]]: tensor<?x?x2x4xf32>, %[[V:[^:]*]]: tensor<?x?x2x3xf32>)
//   CHECK-DAG: %[[LOWEST:.*]] = arith.constant -3.40282347E+38 : f32
//   CHECK-DAG: %[[WINDOW_START:.*]] = arith.constant -19 : index
//   CHECK-DAG: %[[WINDOW:.*]] = arith.constant 20 : index
//       CHECK: %[[B:.*]] = tensor.dim %[[K]], %c0
//       CHECK: %[[T:.*]] = tensor.dim %[[K]], %c1
//       CHECK: %[[CHUNKS:.*]] = arith.ceildivui %[[T]], %c16
//       CHECK: %[[QP:.*]] = scf.if %{{.*}} -> (tensor<?x?x2x4xf32>) {
//       CHECK:   scf.yield %[[Q]]
//       CHECK:   tensor.insert_slice %[[Q]] into
//       CHECK: %[[KP:.*]] = scf.if %{{.*}} -> (tensor<?x?x2x4xf32>) {
//       CHECK:   scf.yield %[[K]]
//       CHECK:   tensor.insert_slice %[[K]] into
//       CHECK: %[[VP:.*]] = scf.if %{{.*}} -> (tensor<?x?x2x3xf32>) {
//       CHECK:   scf.yield %[[V]]
//       CHECK:   tensor.insert_slice %[[V]] into
//       CHECK: %[[ALL:.*]] = scf.forall (%[[ROW:.*]], %[[CHUNK:.*]], %[[HEAD:.*]]) in (%[[B]], %[[CHUNKS]], 2) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<?x?x2x3xf32>)
//       CHECK:   %[[FIRST:.*]] = arith.muli %[[CHUNK]], %c16
//       CHECK:   %[[QC:.*]] = tensor.extract_slice %[[QP]][%[[ROW]], %[[FIRST]], %[[HEAD]], 0] [1, 16, 1, 4] [1, 1, 1, 1] : tensor<?x?x2x4xf32> to tensor<16x4xf32>
//       CHECK:   %[[START:.*]] = arith.addi %[[FIRST]], %[[WINDOW_START]]
//       CHECK:   %[[CLAMPED:.*]] = arith.maxsi %[[START]], %c0
//       CHECK:   %[[BEGIN:.*]] = arith.divui %[[CLAMPED]], %c16
//       CHECK:   %[[END:.*]] = arith.addi %[[CHUNK]], %c1
//       CHECK:   %[[M0:.*]] = linalg.fill ins(%[[LOWEST]] : f32) outs(%{{.*}} : tensor<16xf32>)
//       CHECK:   %[[KEYLOOP:.*]]:3 = scf.for %[[KC:.*]] = %[[BEGIN]] to %[[END]] step %c1 iter_args(%[[M:.*]] = %[[M0]], %[[L:.*]] = %{{.*}}, %[[ACC:.*]] = %{{.*}})
//       CHECK:     %[[KFIRST:.*]] = arith.muli %[[KC]], %c16
//       CHECK:     %[[KCH:.*]] = tensor.extract_slice %[[KP]][%[[ROW]], %[[KFIRST]], %[[HEAD]], 0] [1, 16, 1, 4]
//       CHECK:     %[[VCH:.*]] = tensor.extract_slice %[[VP]][%[[ROW]], %[[KFIRST]], %[[HEAD]], 0] [1, 16, 1, 3]
//       CHECK:     %[[RAW:.*]] = linalg.generic {indexing_maps = [#[[$I_K]], #[[$J_K]], #[[$I_J]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[QC]], %[[KCH]]
//       CHECK:     %[[SCORES:.*]] = linalg.generic {{.*}} ins(%[[RAW]]
//       CHECK:       %[[QPOS:.*]] = arith.addi %[[FIRST]], %{{.*}} : index
//       CHECK:       %[[KPOS:.*]] = arith.addi %[[KFIRST]], %{{.*}} : index
//       CHECK:       %[[CAUSAL:.*]] = arith.cmpi ule, %[[KPOS]], %[[QPOS]]
//       CHECK:       %[[REACH:.*]] = arith.addi %[[KPOS]], %[[WINDOW]]
//       CHECK:       %[[INSIDE:.*]] = arith.cmpi ugt, %[[REACH]], %[[QPOS]]
//       CHECK:       %[[VISIBLE:.*]] = arith.andi %[[CAUSAL]], %[[INSIDE]]
//       CHECK:       arith.select %[[VISIBLE]], %{{.*}}, %[[LOWEST]]
//       CHECK:     %[[NEXT:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[SCORES]] : tensor<16x16xf32>) outs(%[[M]] : tensor<16xf32>)
//       CHECK:       arith.maximumf
//       CHECK:     %[[WEIGHTS:.*]] = linalg.generic {{.*}} ins(%[[SCORES]], %[[NEXT]]
//       CHECK:       math.exp
//       CHECK:       arith.select
//       CHECK:     %[[RESCALE:.*]] = linalg.generic {{.*}} ins(%[[M]], %[[NEXT]]
//       CHECK:       math.exp
//       CHECK:     %[[LSCALED:.*]] = linalg.generic {{.*}} ins(%[[RESCALE]], %[[L]]
//       CHECK:     %[[LNEXT:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[WEIGHTS]] : tensor<16x16xf32>) outs(%[[LSCALED]]
//       CHECK:     %[[ASCALED:.*]] = linalg.generic {{.*}} ins(%[[RESCALE]], %[[ACC]]
//       CHECK:     %[[ANEXT:.*]] = linalg.generic {indexing_maps = [#[[$I_J]], #[[$J_K]], #[[$I_K]]], iterator_types = ["parallel", "reduction", "parallel"]} ins(%[[WEIGHTS]], %[[VCH]] : {{.*}}) outs(%[[ASCALED]]
//       CHECK:     scf.yield %[[NEXT]], %[[LNEXT]], %[[ANEXT]]
//       CHECK:   %[[ROWS:.*]] = linalg.generic {{.*}} ins(%[[KEYLOOP]]#2, %[[KEYLOOP]]#1
//       CHECK:     arith.divf
//       CHECK:   tensor.parallel_insert_slice %[[ROWS]] into %[[OUT]][%[[ROW]], %[[FIRST]], %[[HEAD]], 0] [1, 16, 1, 3]
//       CHECK: %[[TRIMMED:.*]] = tensor.extract_slice %[[ALL]][0, 0, 0, 0] [%[[B]], %[[T]], 2, 3]
//       CHECK: return %[[TRIMMED]]
func.func @tiled(%q: tensor<?x?x2x4xf32>, %k: tensor<?x?x2x4xf32>, %v: tensor<?x?x2x3xf32>) -> tensor<?x?x2x3xf32> {
  %o = rec.chunked_attention %q, %k, %v {scale = 0.5 : f64, window = 20 : i64, chunk_size = 16 : i64} : tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x3xf32>
  return %o : tensor<?x?x2x3xf32>
}

// -----

// Without a window there is no window test, and every query chunk starts
// from key chunk 0.
// CHECK-LABEL: func.func @unbounded
//       CHECK: scf.forall
//       CHECK:   scf.for %{{.*}} = %c0 to
//       CHECK:     arith.cmpi ule
//   CHECK-NOT:     arith.cmpi ugt
//       CHECK:     scf.yield
func.func @unbounded(%q: tensor<?x?x2x4xf32>, %k: tensor<?x?x2x4xf32>, %v: tensor<?x?x2x3xf32>) -> tensor<?x?x2x3xf32> {
  %o = rec.chunked_attention %q, %k, %v {scale = 0.5 : f64, chunk_size = 16 : i64} : tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x3xf32>
  return %o : tensor<?x?x2x3xf32>
}

// -----

// A fixed query under a window takes the tiled kernel, its query broadcast
// to every step.
// CHECK-LABEL: func.func @fixed_query_window
//  CHECK-SAME: (%[[Q:[^:]*]]: tensor<2x4xf32>
//       CHECK: %[[ALLQ:.*]] = linalg.broadcast ins(%[[Q]] : tensor<2x4xf32>) outs(%{{.*}} : tensor<?x?x2x4xf32>) dimensions = [0, 1]
//       CHECK: tensor.insert_slice %[[ALLQ]]
//       CHECK: scf.forall
func.func @fixed_query_window(%q: tensor<2x4xf32>, %k: tensor<?x?x2x4xf32>, %v: tensor<?x?x2x3xf32>) -> tensor<?x?x2x3xf32> {
  %o = rec.chunked_attention %q, %k, %v {scale = 0.5 : f64, window = 5 : i64, chunk_size = 16 : i64} : tensor<2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x3xf32>
  return %o : tensor<?x?x2x3xf32>
}

// -----

// A fixed query without a window: three recurrences over chunks of 16.
// 1. Every chunk (no state): its scores s[j, h] = 0.5 q[h] . k[j, h], their
//    max m, l = sum_j exp(s - m) and a = sum_j exp(s - m) v[j].
// 2. The carry (m, l, a) entering each chunk: states from (lowest, 0, 0),
//    combined with each chunk's summary as M = max(m, m'),
//    (e^(m-M) l + e^(m'-M) l', e^(m-M) a + e^(m'-M) a'); its outputs are the
//    states before the combine.
// 3. Every chunk (no state) from its carry, one step at a time, writing
//    a / l of each step into its rows.
// CHECK-DAG: #[[$H_K:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[$J_H_K:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$J_H:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @prefix_scan
//  CHECK-SAME: (%[[Q:[^:]*]]: tensor<2x4xf32>, %[[K:[^:]*]]: tensor<?x?x2x4xf32>, %[[V:[^:]*]]: tensor<?x?x2x3xf32>)
//   CHECK-DAG: %[[LOWEST:.*]] = arith.constant -3.40282347E+38 : f32
//   CHECK-DAG: %[[SCALE:.*]] = arith.constant 5.000000e-01 : f32
//       CHECK: %[[B:.*]] = tensor.dim %[[K]], %c0
//       CHECK: %[[CHUNKS:.*]] = arith.ceildivui
//       CHECK: %[[KC:.*]] = tensor.expand_shape {{.*}} : tensor<?x?x2x4xf32> into tensor<?x?x16x2x4xf32>
//       CHECK: %[[VC:.*]] = tensor.expand_shape {{.*}} : tensor<?x?x2x3xf32> into tensor<?x?x16x2x3xf32>
//       CHECK: %[[SUMMARY:.*]]:4 = rec.recurrence batch %[[B]] length %[[CHUNKS]] inputs(%[[KC]], %[[VC]] :
//  CHECK-SAME:   -> (tensor<?x?x16x2xf32>, tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x?x2x3xf32>)
//       CHECK:   %[[S:.*]] = linalg.generic {indexing_maps = [#[[$H_K]], #[[$J_H_K]], #[[$J_H]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[Q]],
//       CHECK:     arith.mulf %{{.*}}, %[[SCALE]]
//       CHECK:   %[[TOP:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "parallel"]} ins(%[[S]]
//       CHECK:     arith.maximumf
//       CHECK:   %[[P:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[TOP]]
//       CHECK:     math.exp
//       CHECK:   %[[TOTAL:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "parallel"]} ins(%[[P]]
//       CHECK:   %[[SUM:.*]] = linalg.generic {{.*}}iterator_types = ["reduction", "parallel", "parallel"]} ins(%[[P]],
//       CHECK:   rec.yield %[[S]], %[[TOP]], %[[TOTAL]], %[[SUM]]
//       CHECK: %[[M0:.*]] = linalg.fill ins(%[[LOWEST]] : f32) outs(%{{.*}} : tensor<?x2xf32>)
//       CHECK: %[[CARRY:.*]]:6 = rec.recurrence batch %[[B]] length %[[CHUNKS]] inits(%[[M0]], %{{.*}}, %{{.*}} : tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x2x3xf32>) inputs(%[[SUMMARY]]#1, %[[SUMMARY]]#2, %[[SUMMARY]]#3 :
//       CHECK:   ^bb0(%[[CM:[^:]*]]: tensor<2xf32>, %[[CL:[^:]*]]: tensor<2xf32>, %[[CA:[^:]*]]: tensor<2x3xf32>, %[[SM:[^:]*]]: tensor<2xf32>, %[[SL:[^:]*]]: tensor<2xf32>, %[[SA:[^:]*]]: tensor<2x3xf32>):
//       CHECK:   %[[NM:.*]] = linalg.generic {{.*}} ins(%[[CM]], %[[SM]]
//       CHECK:     arith.maximumf
//       CHECK:   %[[MINE:.*]] = linalg.generic {{.*}} ins(%[[CM]], %[[NM]]
//       CHECK:     math.exp
//       CHECK:   %[[THEIRS:.*]] = linalg.generic {{.*}} ins(%[[SM]], %[[NM]]
//       CHECK:     math.exp
//       CHECK:   %[[NL:.*]] = linalg.generic {{.*}} ins(%[[MINE]], %[[CL]], %[[THEIRS]], %[[SL]]
//       CHECK:   %[[NA:.*]] = linalg.generic {{.*}} ins(%[[MINE]], %[[CA]], %[[THEIRS]], %[[SA]]
//       CHECK:   rec.yield %[[NM]], %[[NL]], %[[NA]], %[[CM]], %[[CL]], %[[CA]]
//       CHECK: %[[OUT:.*]] = rec.recurrence batch %[[B]] length %[[CHUNKS]] inputs(%[[SUMMARY]]#0, %[[VC]], %[[CARRY]]#3, %[[CARRY]]#4, %[[CARRY]]#5 :
//  CHECK-SAME:   -> (tensor<?x?x16x2x3xf32>)
//       CHECK:   %[[STEPS:.*]]:4 = scf.for %[[I:.*]] = %c0 to %c16 step %c1 iter_args(
//       CHECK:     tensor.extract_slice %{{.*}}[%[[I]], 0] [1, 2] [1, 1] : tensor<16x2xf32> to tensor<2xf32>
//       CHECK:     arith.maximumf
//       CHECK:     arith.divf
//       CHECK:     %[[WRITTEN:.*]] = tensor.insert_slice %{{.*}} into %{{.*}}[%[[I]], 0, 0] [1, 2, 3]
//       CHECK:     scf.yield {{.*}}, %[[WRITTEN]]
//       CHECK:   rec.yield %[[STEPS]]#3
//       CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[OUT]] {{\[}}[0], [1, 2], [3], [4]]
//       CHECK: %[[TRIMMED:.*]] = tensor.extract_slice %[[FLAT]][0, 0, 0, 0]
//       CHECK: return %[[TRIMMED]]
func.func @prefix_scan(%q: tensor<2x4xf32>, %k: tensor<?x?x2x4xf32>, %v: tensor<?x?x2x3xf32>) -> tensor<?x?x2x3xf32> {
  %o = rec.chunked_attention %q, %k, %v {scale = 0.5 : f64, chunk_size = 16 : i64} : tensor<2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x3xf32>
  return %o : tensor<?x?x2x3xf32>
}
