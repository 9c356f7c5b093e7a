// RUN: seq-opt %s -seqc-tile-contractions -split-input-file | FileCheck %s
// RUN: seq-opt %s -seqc-tile-contractions=vector-bits=512 -split-input-file | FileCheck %s --check-prefix=WIDE
// RUN: not seq-opt %s -seqc-tile-contractions=vector-bits=48 -split-input-file 2>&1 | FileCheck %s --check-prefix=BITS

// BITS: error: seqc-tile-contractions: vector-bits must be a positive multiple of 32, not 48

#x = affine_map<(b, t, h, d) -> (b, t, d)>
#w = affine_map<(b, t, h, d) -> (d, h)>
#y = affine_map<(b, t, h, d) -> (b, t, h)>

// y[b, t, h] = sum_d x[b, t, d] w[d, h] (a hoisted projection), H = 60,
// AVX2 registers (8 lanes): the rows b and blocks of 60 steps in parallel;
// in a block, tiles of 6 steps x 2 vectors (12 accumulators) over H = 0..48,
// one vector at 48, single lanes for 56..60, then the block's last steps
// one at a time; the zero fill before is dropped (the accumulators start at
// zero). An iteration is 60 steps x 60 channels x 24.
// CHECK-LABEL: func.func @project
// CHECK-SAME: (%[[X:.*]]: memref<?x?x24xf32>, %[[W:.*]]: memref<24x60xf32>, %[[Y:.*]]: memref<?x?x60xf32>)
// CHECK-NOT: linalg.fill
// CHECK: scf.parallel (%[[ROW:.*]], %[[BLOCK:.*]]) =
// CHECK: scf.for %[[T0:.*]] = %{{.*}} to %{{.*}} step %c6
// CHECK: scf.for %[[H0:.*]] = %c0{{.*}} to %c48{{.*}} step %c16
// CHECK: arith.constant dense<0.000000e+00> : vector<8xf32>
// CHECK: scf.for %[[D:[^ ]*]] = %c0{{.*}} to %c24{{.*}} step %c1{{.*}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.load %[[W]][%[[D]], %[[H0]]]
// CHECK: memref.load %[[X]][%[[ROW]], %[[T0]], %[[D]]]
// CHECK: vector.broadcast
// CHECK: vector.fma
// CHECK: vector.store %{{.*}}, %[[Y]][%[[ROW]], %[[T0]], %[[H0]]]
// CHECK: iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: scf.for %{{.*}} = %c56{{.*}} to %c60{{.*}} step %c1
// CHECK: math.fma
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c1
// CHECK: seqc.iteration_cost = 86400 : i64
// CHECK-NOT: linalg.generic
// WIDE-LABEL: func.func @project
// WIDE: scf.for %{{.*}} = %c0{{.*}} to %c32{{.*}} step %c32
// WIDE: -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// WIDE: vector.fma {{.*}} : vector<16xf32>
func.func @project(%x: memref<?x?x24xf32>, %w: memref<24x60xf32>, %y: memref<?x?x60xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<?x?x60xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x?x24xf32>, memref<24x60xf32>) outs(%y : memref<?x?x60xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %c, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#x = affine_map<(b, t, h, d) -> (b, t, d)>
#w = affine_map<(b, t, h, d) -> (d, h)>
#y = affine_map<(b, t, h, d) -> (b, t, h)>

// Without a zero fill just before, the tiles start from y.
// CHECK-LABEL: func.func @accumulate
// CHECK: scf.parallel
// CHECK: vector.load %arg2
// CHECK: vector.fma
func.func @accumulate(%x: memref<?x?x24xf32>, %w: memref<24x32xf32>, %y: memref<?x?x32xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x?x24xf32>, memref<24x32xf32>) outs(%y : memref<?x?x32xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %c, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#x = affine_map<(b, t, h, d) -> (b, t, d)>
#w = affine_map<(b, t, h, d) -> (d, h)>
#y = affine_map<(b, t, h, d) -> (b, t, h)>

// Another body (a max, not a sum) is not a contraction: left alone.
// CHECK-LABEL: func.func @not_a_sum
// CHECK-NOT: scf.parallel
// CHECK: linalg.generic
func.func @not_a_sum(%x: memref<?x?x24xf32>, %w: memref<24x32xf32>, %y: memref<?x?x32xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x?x24xf32>, memref<24x32xf32>) outs(%y : memref<?x?x32xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.maximumf %c, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A projection with the channel axis expanded into [2, 8] (elementwise
// fusion propagates a per-head view into it): the head axis g is one more
// parallel loop beside the row, and n is the 8 channels of a head (one
// vector each).
// CHECK-LABEL: func.func @heads
// CHECK-SAME: (%[[X:.*]]: memref<?x?x24xf32>, %[[W:.*]]: memref<24x2x8xf32>, %[[Y:.*]]: memref<?x?x2x8xf32>)
// CHECK: scf.parallel (%[[ROW:.*]], %[[HEAD:.*]], %{{.*}}) =
// CHECK: scf.for %[[T0:.*]] = %{{.*}} to %{{.*}} step %c6
// CHECK: scf.for %[[D:[^ ]*]] = {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.load %[[W]][%[[D]], %[[HEAD]], %c0{{.*}}]
// CHECK: vector.fma
// CHECK: vector.store %{{.*}}, %[[Y]][%[[ROW]], %[[T0]], %[[HEAD]], %c0{{.*}}]
// CHECK-NOT: linalg.generic
func.func @heads(%x: memref<?x?x24xf32>, %w: memref<24x2x8xf32>, %y: memref<?x?x2x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, t, g, h, d) -> (b, t, d)>,
                                   affine_map<(b, t, g, h, d) -> (d, g, h)>,
                                   affine_map<(b, t, g, h, d) -> (b, t, g, h)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x?x24xf32>, memref<24x2x8xf32>) outs(%y : memref<?x?x2x8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// The scores of a chunk, A[h, i, j] = sum_k q[i, h, k] kT[h, k, j], inside
// a parallel loop (a batch row's chunk step): no scf.parallel; loops over h,
// then 10 tiles of 6 rows i and one of the last 4 (64 is static), each over
// the 64 columns j in tiles of 2 vectors.
// CHECK-LABEL: func.func @chunk_scores
// CHECK-SAME: (%[[Q:.*]]: memref<64x4x32xf32>, %[[KT:.*]]: memref<4x32x64xf32>, %[[A:.*]]: memref<4x64x64xf32>)
// CHECK: scf.forall
// CHECK-NOT: scf.parallel
// CHECK: scf.for %[[H:.*]] = %c0{{.*}} to %c4{{.*}} step %c1
// CHECK: scf.for %[[I0:.*]] = %c0{{.*}} to %c60{{.*}} step %c6
// CHECK: scf.for %[[J0:.*]] = %c0{{.*}} to %c64{{.*}} step %c16
// CHECK: scf.for %[[K:[^ ]*]] = %c0{{.*}} to %c32{{.*}} step %c1{{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.load %[[KT]][%[[H]], %[[K]], %[[J0]]]
// CHECK: memref.load %[[Q]][%[[I0]], %[[H]], %[[K]]]
// CHECK: vector.store %{{.*}}, %[[A]][%[[H]], %[[I0]], %[[J0]]]
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c64{{.*}} step %c16
// CHECK: -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: memref.load %[[Q]][%c63{{.*}}, %[[H]], %{{.*}}]
// CHECK-NOT: linalg.generic
func.func @chunk_scores(%q: memref<64x4x32xf32>, %kt: memref<4x32x64xf32>, %a: memref<4x64x64xf32>) {
  scf.forall (%row) in (2) {
    linalg.generic {indexing_maps = [affine_map<(h, i, j, k) -> (i, h, k)>,
                                     affine_map<(h, i, j, k) -> (h, k, j)>,
                                     affine_map<(h, i, j, k) -> (h, i, j)>],
                    iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
        ins(%q, %kt : memref<64x4x32xf32>, memref<4x32x64xf32>) outs(%a : memref<4x64x64xf32>) {
    ^bb0(%x: f32, %y: f32, %acc: f32):
      %m = arith.mulf %x, %y : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
    }
  }
  return
}

// -----

// The read of a matrix state, o[h, v] = sum_k q[h, k] S[h, k, v]: no loop
// of q and o that S lacks, so the tiles are one row (a matvec per head),
// the heads in parallel.
// CHECK-LABEL: func.func @matvec
// CHECK-SAME: (%[[Q:.*]]: memref<4x16xf32>, %[[S:.*]]: memref<4x16x32xf32>, %[[O:.*]]: memref<4x32xf32>)
// CHECK: scf.parallel (%[[H:.*]]) =
// CHECK: scf.for %[[V0:.*]] = %c0{{.*}} to %c32{{.*}} step %c16
// CHECK: scf.for %[[K:[^ ]*]] = %c0{{.*}} to %c16{{.*}} step %c1{{.*}} -> (vector<8xf32>, vector<8xf32>)
// CHECK: vector.load %[[S]][%[[H]], %[[K]], %[[V0]]]
// CHECK: memref.load %[[Q]][%[[H]], %[[K]]]
// CHECK: seqc.iteration_cost = 512 : i64
func.func @matvec(%q: memref<4x16xf32>, %s: memref<4x16x32xf32>, %o: memref<4x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(h, v, k) -> (h, k)>,
                                   affine_map<(h, v, k) -> (h, k, v)>,
                                   affine_map<(h, v, k) -> (h, v)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%q, %s : memref<4x16xf32>, memref<4x16x32xf32>) outs(%o : memref<4x32xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Both inputs contiguous along the reduced axis (q k^T with k not
// transposed): no input holds the output's inner axis contiguously, so
// vectors along it cannot be loaded: left alone.
// CHECK-LABEL: func.func @dot_products
// CHECK-NOT: vector.fma
// CHECK: linalg.generic
func.func @dot_products(%q: memref<64x32xf32>, %k: memref<64x32xf32>, %a: memref<64x64xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                                   affine_map<(i, j, k) -> (j, k)>,
                                   affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<64x32xf32>, memref<64x32xf32>) outs(%a : memref<64x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Two reduced loops (a projection of a [g, d] input by a [g, d, h] weight):
// the tile runs over the inner one, d; g is a loop around the tiles, which
// each add into y (its value before the op is part of the sum).
// CHECK-LABEL: func.func @two_reductions
// CHECK: scf.for %[[G:.*]] = %{{.*}} to %c4{{.*}} step
// CHECK: scf.for %[[H0:.*]] = %{{.*}} to %c32{{.*}} step %c16
// CHECK: vector.load %arg2[%{{.*}}, %[[H0]]] : memref<8x32xf32>, vector<8xf32>
// CHECK: scf.for %[[D:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(
// CHECK: vector.load %arg1[%[[G]], %[[D]], %[[H0]]]
// CHECK: memref.load %arg0[%{{.*}}, %[[G]], %[[D]]]
// CHECK: vector.fma
// CHECK-NOT: linalg.generic
func.func @two_reductions(%x: memref<8x4x16xf32>, %w: memref<4x16x32xf32>, %y: memref<8x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(t, h, g, d) -> (t, g, d)>,
                                   affine_map<(t, h, g, d) -> (g, d, h)>,
                                   affine_map<(t, h, g, d) -> (t, h)>],
                  iterator_types = ["parallel", "parallel", "reduction", "reduction"]}
      ins(%x, %w : memref<8x4x16xf32>, memref<4x16x32xf32>) outs(%y : memref<8x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#dy = affine_map<(b, t, h, d) -> (b, t, h)>
#xs = affine_map<(b, t, h, d) -> (b, t, d)>
#dw = affine_map<(b, t, h, d) -> (h, d)>

// A weight's gradient, dw[h, d] = sum over b, t of dy[b, t, h] x[b, t, d]:
// two reductions. The tile runs over t; the batch rows and blocks of 256
// steps are loops around the tiles, inside the parallel blocks of rows of
// h, and each tile adds into dw (loaded, not zero), so the fill stays.
// CHECK-LABEL: func.func @weight_gradient
// CHECK-SAME: (%[[DY:.*]]: memref<?x?x12xf32>, %[[X:.*]]: memref<?x?x16xf32>, %[[DW:.*]]: memref<12x16xf32>)
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[DW]] : memref<12x16xf32>)
// CHECK: %[[B:.*]] = memref.dim %[[DY]], %c0
// CHECK: %[[T:.*]] = memref.dim %[[DY]], %c1
// CHECK: scf.parallel
// CHECK: scf.for %[[ROW:.*]] = %{{.*}} to %[[B]] step
// CHECK: scf.for %[[T0:.*]] = %{{.*}} to %[[T]] step %c256
// CHECK: %[[T1:.*]] = arith.minui %{{.*}}, %[[T]] : index
// CHECK: scf.for %[[H0:.*]] = %{{.*}} step %c6
// CHECK: scf.for %[[D0:.*]] = %{{.*}} step %c16
// CHECK: vector.load %[[DW]][%[[H0]], %[[D0]]] : memref<12x16xf32>, vector<8xf32>
// CHECK: scf.for %[[STEP:.*]] = %[[T0]] to %[[T1]] step %{{.*}} iter_args(
// CHECK: vector.load %[[X]][%[[ROW]], %[[STEP]], %[[D0]]]
// CHECK: memref.load %[[DY]][%[[ROW]], %[[STEP]], %[[H0]]]
// CHECK: vector.fma
// CHECK: vector.store %{{.*}}, %[[DW]][%[[H0]], %[[D0]]]
// CHECK-NOT: linalg.generic
func.func @weight_gradient(%dy: memref<?x?x12xf32>, %x: memref<?x?x16xf32>, %dw: memref<12x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%dw : memref<12x16xf32>)
  linalg.generic {indexing_maps = [#dy, #xs, #dw],
                  iterator_types = ["reduction", "reduction", "parallel", "parallel"]}
      ins(%dy, %x : memref<?x?x12xf32>, memref<?x?x16xf32>) outs(%dw : memref<12x16xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %m = arith.mulf %a, %b : f32
    %s = arith.addf %c, %m : f32
    linalg.yield %s : f32
  }
  return
}
