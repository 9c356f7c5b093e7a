// RUN: seq-opt %s --convert-linear-scan-to-gpu --split-input-file | FileCheck %s
// RUN: seq-opt %s --convert-linear-scan-to-gpu="warps=4 steps-per-thread=2" --split-input-file | FileCheck %s --check-prefix=SMALL

// The single-pass scan: T = 0 copies the initial state; otherwise zeroed
// look-back state, then one launch of groups x tiles blocks.
// CHECK-LABEL: func.func @scan
//  CHECK-SAME: (%[[A:.*]]: memref<?x?x4xf32>, %[[B:.*]]: memref<?x?x4xf32>, %[[H0:.*]]: memref<?x4xf32>, %[[HS:.*]]: memref<?x?x4xf32>, %[[HT:.*]]: memref<?x4xf32>)
//       CHECK: %[[T:.*]] = memref.dim %[[HS]], %c1
//       CHECK: %[[EMPTY:.*]] = arith.cmpi eq, %[[T]], %c0
//       CHECK: scf.if %[[EMPTY]] {
//       CHECK:   linalg.copy ins(%[[H0]] : memref<?x4xf32>) outs(%[[HT]] : memref<?x4xf32>)
//       CHECK: } else {
//       CHECK:   %[[GROUPS:.*]] = arith.muli %{{.*}}, %{{.*}} : index
//       CHECK:   %[[TILES:.*]] = arith.ceildivui %[[T]], %c64
//       CHECK:   %[[BLOCKS:.*]] = arith.muli %[[GROUPS]], %[[TILES]]
//       CHECK:   %[[FLAGS:.*]] = memref.alloc(%{{.*}}) : memref<?xi32>
//       CHECK:   %[[COUNTER:.*]] = memref.alloc() : memref<1xi32>
//       CHECK:   linalg.fill ins(%{{.*}} : i32) outs(%[[FLAGS]] : memref<?xi32>)
//       CHECK:   linalg.fill ins(%{{.*}} : i32) outs(%[[COUNTER]] : memref<1xi32>)
//       CHECK:   gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCKS]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c256
//  CHECK-SAME:     workgroup(%{{.*}} : memref<8x32xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<8x32xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<8x32xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<1xindex, #gpu.address_space<workgroup>>)
// Tiles are claimed in order.
//       CHECK:     memref.atomic_rmw addi %{{.*}}, %[[COUNTER]]
//       CHECK:     gpu.barrier
// Eight steps per thread, each loaded once (a and b) and kept.
// CHECK-COUNT-8:   memref.load %[[A]]
//       CHECK:     gpu.barrier
// Warp 0: publish the aggregate, look back, publish the inclusive state.
//       CHECK:     llvm.fence syncscope("device") release
//       CHECK:     memref.atomic_rmw assign
//       CHECK:     scf.while
//       CHECK:       memref.atomic_rmw ori
//       CHECK:       llvm.fence syncscope("device") acquire
//       CHECK:     llvm.fence syncscope("device") release
//       CHECK:     memref.atomic_rmw assign
//       CHECK:     memref.store %{{.*}}, %[[HT]]
//       CHECK:     gpu.barrier
// CHECK-COUNT-8:   memref.store %{{.*}}, %[[HS]]
//       CHECK:     gpu.terminator
//       CHECK:   memref.dealloc %[[FLAGS]]

// SMALL-LABEL: func.func @scan
//       SMALL: arith.ceildivui %{{.*}}, %c8
//       SMALL: threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128
// SMALL-COUNT-2: memref.load
func.func @scan(%a: memref<?x?x4xf32>, %b: memref<?x?x4xf32>, %h0: memref<?x4xf32>,
                %hs: memref<?x?x4xf32>, %hT: memref<?x4xf32>) {
  rec.linear_scan ins(%a, %b, %h0 : memref<?x?x4xf32>, memref<?x?x4xf32>, memref<?x4xf32>)
                  outs(%hs, %hT : memref<?x?x4xf32>, memref<?x4xf32>)
  return
}

// -----

// A scalar state has no channel axis: one lane of each warp does the work.
// CHECK-LABEL: func.func @scalar_state
//       CHECK: gpu.launch
//       CHECK: memref.load %{{.*}}[%{{[^,]*}}, %{{[^,]*}}] : memref<?x?xf32>
func.func @scalar_state(%a: memref<?x?xf32>, %b: memref<?x?xf32>, %h0: memref<?xf32>,
                        %hs: memref<?x?xf32>, %hT: memref<?xf32>) {
  rec.linear_scan ins(%a, %b, %h0 : memref<?x?xf32>, memref<?x?xf32>, memref<?xf32>)
                  outs(%hs, %hT : memref<?x?xf32>, memref<?xf32>)
  return
}

// -----

// Matrix states: the channel axes collapse into one.
// CHECK-LABEL: func.func @matrix_state
//       CHECK: memref.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3]] : memref<?x?x4x8xf32> into memref<?x?x32xf32>
//       CHECK: gpu.launch
func.func @matrix_state(%a: memref<?x?x4x8xf32>, %b: memref<?x?x4x8xf32>, %h0: memref<?x4x8xf32>,
                        %hs: memref<?x?x4x8xf32>, %hT: memref<?x4x8xf32>) {
  rec.linear_scan ins(%a, %b, %h0 : memref<?x?x4x8xf32>, memref<?x?x4x8xf32>, memref<?x4x8xf32>)
                  outs(%hs, %hT : memref<?x?x4x8xf32>, memref<?x4x8xf32>)
  return
}

// -----

// A reverse scan is the same kernel reading and writing time backwards:
// step t of the scan's order is T-1-t of the sequences, for the loads of a
// and b and the stores of the states.
// SMALL-LABEL: func.func @reverse
//       SMALL: %[[T:.*]] = memref.dim %arg3, %c1{{.*}} : memref<?x?xf32>
//       SMALL: gpu.launch
//       SMALL: arith.cmpi ult, %{{.*}}, %[[T]] : index
//       SMALL: %[[STEP:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : index
//       SMALL: %[[LAST:.*]] = arith.subi %[[T]], %{{.*}} : index
//       SMALL: %[[AT:.*]] = arith.subi %[[LAST]], %[[STEP]] : index
//       SMALL: memref.load %arg0[%{{.*}}, %[[AT]]] : memref<?x?xf32>
//       SMALL: memref.load %arg1[%{{.*}}, %[[AT]]] : memref<?x?xf32>
//       SMALL: scf.if
//       SMALL: %[[LAST2:.*]] = arith.subi %[[T]], %{{.*}} : index
//       SMALL: %[[AT2:.*]] = arith.subi %[[LAST2]], %{{.*}} : index
//       SMALL: memref.store %{{.*}}, %arg3[%{{.*}}, %[[AT2]]] : memref<?x?xf32>
func.func @reverse(%a: memref<?x?xf32>, %b: memref<?x?xf32>, %h0: memref<?xf32>,
                   %hs: memref<?x?xf32>, %hT: memref<?xf32>) {
  rec.linear_scan reverse ins(%a, %b, %h0 : memref<?x?xf32>, memref<?x?xf32>, memref<?xf32>)
                  outs(%hs, %hT : memref<?x?xf32>, memref<?xf32>)
  return
}

// -----

// A state carried by a loop (over segments of time) has a fully dynamic
// layout, which does not say its channels collapse: it is copied into a
// dense buffer before the kernel, and the final state copied back from one
// after it (at T = 0, the dense copy of the initial state is what the final
// state gets).
// CHECK-LABEL: func.func @carried_state
//  CHECK-SAME: %[[H0:[a-zA-Z0-9_]+]]: memref<?x4x8xf32, strided<[?, ?, ?], offset: ?>>, %[[HS:[a-zA-Z0-9_]+]]: memref<?x?x4x8xf32>, %[[HT:[a-zA-Z0-9_]+]]: memref<?x4x8xf32, strided<[?, ?, ?], offset: ?>>)
//       CHECK: %[[DENSE0:.*]] = memref.alloc(%{{.*}}) : memref<?x4x8xf32>
//       CHECK: linalg.copy ins(%[[H0]] : memref<?x4x8xf32, strided<[?, ?, ?], offset: ?>>) outs(%[[DENSE0]] : memref<?x4x8xf32>)
//       CHECK: %[[DENSET:.*]] = memref.alloc(%{{.*}}) : memref<?x4x8xf32>
//       CHECK: scf.if
//       CHECK: linalg.copy ins(%[[DENSE0]] : memref<?x4x8xf32>) outs(%[[DENSET]] : memref<?x4x8xf32>)
//       CHECK: gpu.launch
//   CHECK-DAG: memref.dealloc %[[DENSE0]]
//   CHECK-DAG: linalg.copy ins(%[[DENSET]] : memref<?x4x8xf32>) outs(%[[HT]] : memref<?x4x8xf32, strided<[?, ?, ?], offset: ?>>)
//   CHECK-DAG: memref.dealloc %[[DENSET]]
func.func @carried_state(%a: memref<?x?x4x8xf32>, %b: memref<?x?x4x8xf32>,
                         %h0: memref<?x4x8xf32, strided<[?, ?, ?], offset: ?>>, %hs: memref<?x?x4x8xf32>,
                         %hT: memref<?x4x8xf32, strided<[?, ?, ?], offset: ?>>) {
  rec.linear_scan ins(%a, %b, %h0 : memref<?x?x4x8xf32>, memref<?x?x4x8xf32>, memref<?x4x8xf32, strided<[?, ?, ?], offset: ?>>)
                  outs(%hs, %hT : memref<?x?x4x8xf32>, memref<?x4x8xf32, strided<[?, ?, ?], offset: ?>>)
  return
}
