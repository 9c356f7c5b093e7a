// RUN: seq-opt %s -convert-linear-scan-to-loops -split-input-file | FileCheck %s

// Channel axes collapse to one; the runtime's plan picks, at call time,
// among the three lowerings: the chained split (chunks claimed with an
// atomic counter, published with atomic flags), the three-phase split (two
// parallel phases around a sequential chain) and rows in parallel. Every
// parallel loop is marked as worth a thread per iteration.
// CHECK-DAG: func.func private @seqc_scan_plan(i64, i64, i64) -> i64
// CHECK-DAG: func.func private @seqc_pause()
// CHECK-LABEL: func.func @matrix_state
// CHECK: %[[A:.*]] = memref.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3]] : memref<?x?x4x8xf32> into memref<?x?x32xf32>
// CHECK: %[[PLAN:.*]] = call @seqc_scan_plan(
// CHECK: scf.if
// CHECK: scf.if
// Chained: per-lane aggregates aligned to cache lines, then the lanes.
// CHECK: memref.alloc({{.*}}) {alignment = 64 : i64} : memref<?x?x?xf32>
// CHECK: scf.parallel
// CHECK: scf.while
// CHECK: memref.atomic_rmw addi
// CHECK: vector.load %[[A]]
// CHECK: memref.atomic_rmw ori
// CHECK: call @seqc_pause()
// CHECK: memref.atomic_rmw assign
// CHECK: seqc.iteration_cost
// CHECK: memref.dealloc
// CHECK: } else {
// Three-phase: phase 1, phase 3, each parallel.
// CHECK: scf.parallel
// CHECK: seqc.iteration_cost
// CHECK: scf.parallel
// CHECK: seqc.iteration_cost
// CHECK: } else {
// Rows and channel blocks: h[t] = a[t] * h[t-1] + b[t] in the states' buffer.
// CHECK: scf.parallel
// CHECK: vector.load %[[A]]
// CHECK: arith.mulf {{.*}} : vector<16xf32>
// CHECK: arith.addf {{.*}} : vector<16xf32>
// CHECK: vector.store
// CHECK: seqc.iteration_cost = 1099511627776 : i64
// CHECK-NOT: rec.linear_scan
func.func @matrix_state(%a: memref<?x?x4x8xf32>, %b: memref<?x?x4x8xf32>, %h0: memref<?x4x8xf32>,
                        %hs: memref<?x?x4x8xf32>, %hT: memref<?x4x8xf32>) {
  rec.linear_scan ins(%a, %b, %h0 : memref<?x?x4x8xf32>, memref<?x?x4x8xf32>, memref<?x4x8xf32>)
                  outs(%hs, %hT : memref<?x?x4x8xf32>, memref<?x4x8xf32>)
  return
}

// -----

// A scalar state per row: no channel axis, one lane (the vector loop runs
// zero times); the row scan reads step t-1 back from the states' buffer.
// CHECK-LABEL: func.func @scalar_state
// CHECK-NOT: memref.collapse_shape
// CHECK: call @seqc_scan_plan(
// CHECK: } else {
// CHECK: } else {
// CHECK: scf.parallel
// CHECK: memref.load %arg3[%{{.*}}, %[[PREV:.*]]] : memref<?x?xf32>
// CHECK: memref.store %{{.*}}, %arg3[%{{.*}}, %{{.*}}] : memref<?x?xf32>
func.func @scalar_state(%a: memref<?x?xf32>, %b: memref<?x?xf32>, %h0: memref<?xf32>,
                        %hs: memref<?x?xf32>, %hT: memref<?xf32>) {
  rec.linear_scan ins(%a, %b, %h0 : memref<?x?xf32>, memref<?x?xf32>, memref<?xf32>)
                  outs(%hs, %hT : memref<?x?xf32>, memref<?xf32>)
  return
}

// -----

// Channels that are not contiguous are copied into a dense buffer first,
// and the states copied back after.
// CHECK-LABEL: func.func @strided_channels
// CHECK: %[[DENSE:.*]] = memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?x4x8xf32>
// CHECK: linalg.copy ins(%arg0 : memref<?x?x4x8xf32, strided<[?, ?, 16, 1]>>) outs(%[[DENSE]]
// CHECK: call @seqc_scan_plan(
// CHECK: linalg.copy ins(%{{.*}} : memref<?x?x4x8xf32>) outs(%arg3 : memref<?x?x4x8xf32, strided<[?, ?, 16, 1]>>)
func.func @strided_channels(%a: memref<?x?x4x8xf32, strided<[?, ?, 16, 1]>>,
                            %b: memref<?x?x4x8xf32>, %h0: memref<?x4x8xf32>,
                            %hs: memref<?x?x4x8xf32, strided<[?, ?, 16, 1]>>,
                            %hT: memref<?x4x8xf32>) {
  rec.linear_scan ins(%a, %b, %h0 : memref<?x?x4x8xf32, strided<[?, ?, 16, 1]>>,
                      memref<?x?x4x8xf32>, memref<?x4x8xf32>)
                  outs(%hs, %hT : memref<?x?x4x8xf32, strided<[?, ?, 16, 1]>>, memref<?x4x8xf32>)
  return
}

// -----

// A reverse scan is the same loops reading and writing time backwards: step
// t of the scan's order is T-1-t of the sequences, its predecessor T-t, and
// the final state is h[0].
// CHECK-LABEL: func.func @reverse
// CHECK: memref.dim %arg0, %c0
// CHECK: %[[T:.*]] = memref.dim %arg0, %{{.*}} : memref<?x?xf32>
// CHECK: %[[LAST:.*]] = arith.subi %[[T]], %{{.*}} : index
// CHECK: call @seqc_scan_plan(
// Rows in parallel (the last strategy): every step after the first.
// CHECK: } else {
// CHECK: } else {
// CHECK: scf.for %[[STEP:.*]] = %{{.*}} to %{{.*}} step
// CHECK: %[[PREV:.*]] = arith.subi %[[STEP]], %{{.*}} : index
// CHECK: %[[FROM:.*]] = arith.subi %[[LAST]], %[[PREV]] : index
// CHECK: %[[AT:.*]] = arith.subi %[[LAST]], %[[STEP]] : index
// CHECK: memref.load %arg0[%{{.*}}, %[[AT]]] : memref<?x?xf32>
// CHECK: memref.load %arg3[%{{.*}}, %[[FROM]]] : memref<?x?xf32>
// CHECK: memref.load %arg1[%{{.*}}, %[[AT]]] : memref<?x?xf32>
// CHECK: memref.store %{{.*}}, %arg3[%{{.*}}, %[[AT]]] : memref<?x?xf32>
// The final state: step T-1 of the scan, h[0].
// CHECK: %[[END:.*]] = arith.subi %[[T]], %{{.*}} : index
// CHECK: %[[FIRST:.*]] = arith.subi %[[LAST]], %[[END]] : index
// CHECK: memref.load %arg3[%{{.*}}, %[[FIRST]]] : memref<?x?xf32>
// CHECK: memref.store %{{.*}}, %arg4[%{{.*}}] : memref<?xf32>
func.func @reverse(%a: memref<?x?xf32>, %b: memref<?x?xf32>, %h0: memref<?xf32>,
                   %hs: memref<?x?xf32>, %hT: memref<?xf32>) {
  rec.linear_scan reverse ins(%a, %b, %h0 : memref<?x?xf32>, memref<?x?xf32>, memref<?xf32>)
                  outs(%hs, %hT : memref<?x?xf32>, memref<?xf32>)
  return
}
