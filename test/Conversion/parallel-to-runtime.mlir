// RUN: seq-opt %s -convert-parallel-to-runtime -split-input-file | FileCheck %s

// The body of an outermost scf.parallel becomes a function over a range of
// the flattened iterations, called through seqc_parallel_for with the
// loop's live-ins in a struct. A small buffer one iteration allocates and
// frees becomes one stack buffer per task, before the task's loop; a
// seqc.iteration_cost attribute is passed on as the cost.
// CHECK-DAG: func.func private @seqc_parallel_for(i64, !llvm.ptr, !llvm.ptr, i64)
// CHECK-LABEL: func.func private @rows_parallel0(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64)
// CHECK: llvm.load
// CHECK: %[[TMP:.*]] = memref.alloca() {alignment = 64 : i64} : memref<16xf32>
// CHECK: scf.for
// CHECK-NOT: memref.alloc(
// CHECK-NOT: memref.dealloc
// CHECK: memref.store %{{.*}}, %[[TMP]]
// CHECK: return
// CHECK-LABEL: func.func @rows
// CHECK: llvm.alloca
// CHECK: %[[COST:.*]] = arith.constant 12345 : i64
// CHECK: call @seqc_parallel_for(%{{.*}}, %{{.*}}, %{{.*}}, %[[COST]])
// CHECK-NOT: scf.parallel
func.func @rows(%n: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %x = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %tmp = memref.alloc() {alignment = 64 : i64} : memref<16xf32>
    memref.store %x, %tmp[%c0] : memref<16xf32>
    %v = memref.load %tmp[%c0] : memref<16xf32>
    memref.store %v, %out[%i] : memref<?xf32>
    memref.dealloc %tmp : memref<16xf32>
    scf.reduce
  } {seqc.iteration_cost = 12345 : i64}
  return
}

// -----

// A buffer too large for a stack, or one that outlives the iteration, stays
// on the heap.
// CHECK-LABEL: func.func private @big_parallel0
// CHECK-NOT: memref.alloca
// CHECK: scf.for
// CHECK: memref.alloc() : memref<2048xf32>
// CHECK: memref.dealloc
func.func @big(%n: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %x = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %tmp = memref.alloc() : memref<2048xf32>
    memref.store %x, %tmp[%c0] : memref<2048xf32>
    %v = memref.load %tmp[%c0] : memref<2048xf32>
    memref.store %v, %out[%i] : memref<?xf32>
    memref.dealloc %tmp : memref<2048xf32>
    scf.reduce
  }
  return
}
