// RUN: seq-opt %s --convert-parallel-to-gpu="block-size=128" --split-input-file --verify-diagnostics | FileCheck %s

// An outermost parallel loop: one thread per iteration of the linearised
// space (innermost fastest), nothing launched for zero iterations.
// CHECK-LABEL: func.func @loop
//       CHECK: %[[N0:.*]] = arith.ceildivui
//       CHECK: %[[N1:.*]] = arith.ceildivui
//       CHECK: %[[N:.*]] = arith.muli %{{.*}}, %[[N1]]
//       CHECK: %[[ANY:.*]] = arith.cmpi sgt, %[[N]], %c0
//       CHECK: scf.if %[[ANY]] {
//       CHECK:   %[[BLOCKS:.*]] = arith.ceildivui %[[N]], %c128
//       CHECK:   gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCKS]], {{.*}} threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c128
//       CHECK:     %[[BASE:.*]] = arith.muli %[[BX]], %c128
//       CHECK:     %[[I:.*]] = arith.addi %[[BASE]], %[[TX]]
//       CHECK:     %[[IN:.*]] = arith.cmpi ult, %[[I]], %[[N]]
//       CHECK:     scf.if %[[IN]] {
//       CHECK:       %[[INNER:.*]] = arith.remui %[[I]], %[[N1]]
//       CHECK:       %[[OUTER:.*]] = arith.divui %[[I]], %[[N1]]
//       CHECK:       %[[J0:.*]] = arith.muli %[[INNER]], %c1
//       CHECK:       %[[J:.*]] = arith.addi %c0, %[[J0]]
//       CHECK:       %[[I0:.*]] = arith.muli %[[OUTER]], %c1
//       CHECK:       %[[II:.*]] = arith.addi %c0, %[[I0]]
//       CHECK:       memref.store %{{.*}}, %{{.*}}[%[[II]], %[[J]]]
//       CHECK:     gpu.terminator
func.func @loop(%out: memref<?x?xf32>, %b: index, %t: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%b, %t) step (%c1, %c1) {
    memref.store %one, %out[%i, %j] : memref<?x?xf32>
  }
  return
}

// -----

// Host-level linalg ops (and copies) become kernels; reductions stay inside
// a thread; a rank-0 op runs as a launch of one.
// CHECK-LABEL: func.func @linalg_on_device
//       CHECK: gpu.launch
//       CHECK:   scf.for
//       CHECK:     arith.mulf
//       CHECK: gpu.launch
//       CHECK:   math.rsqrt
//       CHECK: gpu.launch
//       CHECK:   memref.load
//       CHECK:   memref.store
//   CHECK-NOT: linalg.
#x = affine_map<(b, h, d) -> (b, d)>
#w = affine_map<(b, h, d) -> (d, h)>
#y = affine_map<(b, h, d) -> (b, h)>
func.func @linalg_on_device(%x: memref<?x8xf32>, %w: memref<8x16xf32>, %y: memref<?x16xf32>,
                            %s: memref<f32>, %copy: memref<?x16xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x8xf32>, memref<8x16xf32>) outs(%y : memref<?x16xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<() -> ()>], iterator_types = []} outs(%s : memref<f32>) {
  ^bb0(%v: f32):
    %r = math.rsqrt %v : f32
    linalg.yield %r : f32
  }
  memref.copy %y, %copy : memref<?x16xf32> to memref<?x16xf32>
  return
}

// -----

// The deallocation bookkeeping (index, i1) stays on the host's stack; a
// static temporary freed in its block becomes private memory at the
// kernel's entry.
// CHECK-LABEL: func.func @buffers
//       CHECK: memref.alloca() : memref<2xindex>
//   CHECK-NOT: memref.dealloc %{{.*}} : memref<2xindex>
//       CHECK: gpu.launch
//  CHECK-NEXT:   memref.alloca() {alignment = 64 : i64} : memref<16xf32>
//   CHECK-NOT:   memref.alloc(
//   CHECK-NOT:   memref.dealloc
//       CHECK:   gpu.terminator
func.func @buffers(%out: memref<?x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %list = memref.alloc() : memref<2xindex>
  memref.store %n, %list[%c0] : memref<2xindex>
  memref.dealloc %list : memref<2xindex>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %tmp = memref.alloc() {alignment = 64 : i64} : memref<16xf32>
    %row = memref.subview %out[%i, 0] [1, 16] [1, 1] : memref<?x16xf32> to memref<16xf32, strided<[1], offset: ?>>
    memref.copy %row, %tmp : memref<16xf32, strided<[1], offset: ?>> to memref<16xf32>
    memref.dealloc %tmp : memref<16xf32>
  }
  return
}

// -----

func.func @reduction(%out: memref<f32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  // expected-error @below {{a parallel reduction cannot become a GPU kernel yet}}
  %sum = scf.parallel (%i) = (%c0) to (%n) step (%c1) init (%zero) -> f32 {
    scf.reduce(%zero : f32) {
    ^bb0(%l: f32, %r: f32):
      %s = arith.addf %l, %r : f32
      scf.reduce.return %s : f32
    }
  }
  memref.store %sum, %out[] : memref<f32>
  return
}

// -----

// A scalar the host reads from device memory (the Newton residual) comes
// back through the launcher: the element's address (offset plus indices
// times strides, 4 bytes each) goes to seqc_cuda_read_f32, declared once.
// CHECK-LABEL: func.func private @seqc_cuda_read_f32(!llvm.ptr) -> f32
//   CHECK-NOT: func.func private @seqc_cuda_read_f32
// CHECK-LABEL: func.func @host_reads
//  CHECK-SAME: (%[[R:.*]]: memref<f32>, %[[ROW:.*]]: memref<?xf32, strided<[?], offset: ?>>, %[[I:.*]]: index)
//       CHECK: %[[BASE:.*]], %[[OFFSET:.*]] = memref.extract_strided_metadata %[[R]]
//       CHECK: %[[P:.*]] = memref.extract_aligned_pointer_as_index %[[R]]
//       CHECK: %[[BYTES:.*]] = arith.muli %[[OFFSET]], %c4
//       CHECK: %[[A:.*]] = arith.addi %[[P]], %[[BYTES]]
//       CHECK: %[[A64:.*]] = arith.index_castui %[[A]] : index to i64
//       CHECK: %[[PTR:.*]] = llvm.inttoptr %[[A64]] : i64 to !llvm.ptr
//       CHECK: %[[X:.*]] = call @seqc_cuda_read_f32(%[[PTR]])
//       CHECK: %{{.*}}, %[[OFFSET2:.*]], %{{.*}}, %[[STRIDE:.*]] = memref.extract_strided_metadata %[[ROW]]
//       CHECK: %[[SCALED:.*]] = arith.muli %[[I]], %[[STRIDE]]
//       CHECK: %[[ELEMENT:.*]] = arith.addi %[[OFFSET2]], %[[SCALED]]
//       CHECK: arith.muli %[[ELEMENT]], %c4
//       CHECK: %[[Y:.*]] = call @seqc_cuda_read_f32
//       CHECK: arith.addf %[[X]], %[[Y]]
//   CHECK-NOT: memref.load
func.func @host_reads(%r: memref<f32>, %row: memref<?xf32, strided<[?], offset: ?>>,
                      %i: index) -> f32 {
  %x = memref.load %r[] : memref<f32>
  %y = memref.load %row[%i] : memref<?xf32, strided<[?], offset: ?>>
  %s = arith.addf %x, %y : f32
  return %s : f32
}
