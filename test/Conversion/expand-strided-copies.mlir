// RUN: seq-opt %s -seqc-expand-strided-copies | FileCheck %s

// A copy out of a strided view (one time step of a [B, T, H] sequence)
// becomes linalg.copy; a copy between contiguous buffers stays a memref.copy
// (a memcpy after lowering).
// CHECK-LABEL: func.func @copies
// CHECK-SAME: (%[[SEQ:.*]]: memref<?x?x4xf32>, %[[ROW:.*]]: memref<?x4xf32>, %[[OTHER:.*]]: memref<?x4xf32>, %[[T:.*]]: index, %[[B:.*]]: index)
// CHECK: %[[STEP:.*]] = memref.subview %[[SEQ]]
// CHECK-NEXT: linalg.copy ins(%[[STEP]] : memref<?x4xf32, strided<[?, 1], offset: ?>>) outs(%[[ROW]] : memref<?x4xf32>)
// CHECK-NEXT: memref.copy %[[ROW]], %[[OTHER]] : memref<?x4xf32> to memref<?x4xf32>
// CHECK-NOT: memref.copy
func.func @copies(%seq: memref<?x?x4xf32>, %row: memref<?x4xf32>, %other: memref<?x4xf32>, %t: index, %b: index) {
  %step = memref.subview %seq[0, %t, 0] [%b, 1, 4] [1, 1, 1] : memref<?x?x4xf32> to memref<?x4xf32, strided<[?, 1], offset: ?>>
  memref.copy %step, %row : memref<?x4xf32, strided<[?, 1], offset: ?>> to memref<?x4xf32>
  memref.copy %row, %other : memref<?x4xf32> to memref<?x4xf32>
  return
}
