// RUN: seq-opt %s -convert-projections-to-tiles -split-input-file | FileCheck %s

#x = affine_map<(b, t, h, d) -> (b, t, d)>
#w = affine_map<(b, t, h, d) -> (d, h)>
#y = affine_map<(b, t, h, d) -> (b, t, h)>

// y[b, t, h] = sum_d x[b, t, d] w[d, h], H = 56: blocks of steps in
// parallel; tiles of 4 steps x 2 vectors (8 accumulators) over H = 0..32,
// one vector for 32..48, single lanes for the last 8; the zero fill before
// is dropped (the accumulators start at zero).
// CHECK-LABEL: func.func @project
// CHECK-NOT: linalg.fill
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c32{{.*}} step %c32
// CHECK: arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c24{{.*}} step %c1{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.load %arg1
// CHECK: vector.broadcast
// CHECK: vector.fma
// CHECK: vector.store
// CHECK: iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: scf.for %{{.*}} = %c48{{.*}} to %c56{{.*}} step %c1
// CHECK: math.fma
// CHECK: seqc.iteration_cost = 86016 : i64
// CHECK-NOT: linalg.generic
func.func @project(%x: memref<?x?x24xf32>, %w: memref<24x56xf32>, %y: memref<?x?x56xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%y : memref<?x?x56xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x?x24xf32>, memref<24x56xf32>) outs(%y : memref<?x?x56xf32>) {
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

// Another body (a max, not a sum) is not a projection: left alone.
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

// The channel axis expanded into [2, 8] (elementwise fusion propagates a
// per-head view of the projection into it): the weights and the output are
// viewed with one channel axis of 16 again, and tiled as above.
// CHECK-LABEL: func.func @heads
// CHECK-SAME: (%[[X:.*]]: memref<?x?x24xf32>, %[[W:.*]]: memref<24x2x8xf32>, %[[Y:.*]]: memref<?x?x2x8xf32>)
// CHECK-DAG: %[[WFLAT:.*]] = memref.collapse_shape %[[W]] {{\[}}[0], [1, 2]] : memref<24x2x8xf32> into memref<24x16xf32>
// CHECK-DAG: %[[YFLAT:.*]] = memref.collapse_shape %[[Y]] {{\[}}[0], [1], [2, 3]] : memref<?x?x2x8xf32> into memref<?x?x16xf32>
// CHECK: scf.parallel
// CHECK: vector.load %[[WFLAT]]
// CHECK: vector.fma
// CHECK: vector.store %{{.*}}, %[[YFLAT]]
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
