// RUN: seq-opt %s --convert-reductions-to-gpu="block-size=64" --split-input-file | FileCheck %s

// The Newton residual's shape: every loop a reduction into a rank-0 buffer.
// One launch of min(ceil(N / 64), 1024) blocks, nothing for N = 0; each
// thread folds a grid-stride share from the combiner's neutral element
// (-inf for maximumf), the block folds through shared memory halving the
// active threads (32, 16, ..., 1) with a barrier after each step, and
// thread 0 folds the block's value into the output with a compare-and-swap
// loop on the bits.
// CHECK-LABEL: func.func @residual
//       CHECK: %[[N:.*]] = arith.muli %{{.*}}, %c4 : index
//       CHECK: %[[ANY:.*]] = arith.cmpi sgt, %[[N]],
//       CHECK: scf.if %[[ANY]] {
//       CHECK:   %[[WANT:.*]] = arith.ceildivui %[[N]], %c64
//       CHECK:   %[[BLOCKS:.*]] = arith.minui %[[WANT]], %c1024
//       CHECK:   gpu.launch blocks(%[[BX:[^,]*]], {{.*}} in (%[[GX:[^ ]*]] = %[[BLOCKS]], {{.*}} threads(%[[TX:[^,]*]], {{.*}} workgroup(%[[SHARED:.*]] : memref<64xf32, #gpu.address_space<workgroup>>)
//       CHECK:     %[[FIRST0:.*]] = arith.muli %[[BX]], %c64
//       CHECK:     %[[FIRST:.*]] = arith.addi %[[FIRST0]], %[[TX]]
//       CHECK:     %[[STRIDE:.*]] = arith.muli %[[GX]], %c64
//       CHECK:     %[[NEG_INF:.*]] = arith.constant 0xFF800000 : f32
//       CHECK:     %[[MINE:.*]] = scf.for %[[I:.*]] = %[[FIRST]] to %[[N]] step %[[STRIDE]] iter_args(%[[ACC:.*]] = %[[NEG_INF]])
//       CHECK:       %[[H:.*]] = arith.remui %[[I]], %c4
//       CHECK:       %[[BT:.*]] = arith.divui %[[I]], %c4
//       CHECK:       %[[T:.*]] = arith.remui %[[BT]],
//       CHECK:       %[[B:.*]] = arith.divui %[[BT]],
//       CHECK:       memref.load %arg0
//       CHECK:       memref.load %arg1
//       CHECK:       %[[Q:.*]] = arith.divf
//       CHECK:       %[[NEXT:.*]] = arith.maximumf %[[ACC]], %[[Q]]
//       CHECK:       scf.yield %[[NEXT]]
//       CHECK:     memref.store %[[MINE]], %[[SHARED]][%[[TX]]]
//       CHECK:     gpu.barrier
//       CHECK:     arith.cmpi ult, %[[TX]], %c32
//       CHECK:     scf.if
//       CHECK:       arith.maximumf
//       CHECK:     gpu.barrier
//       CHECK:     arith.cmpi ult, %[[TX]], %c16
//       CHECK:     gpu.barrier
//       CHECK:     arith.cmpi ult, %[[TX]], %c8
//       CHECK:     gpu.barrier
//       CHECK:     arith.cmpi ult, %[[TX]], %c4
//       CHECK:     gpu.barrier
//       CHECK:     arith.cmpi ult, %[[TX]], %c2
//       CHECK:     gpu.barrier
//       CHECK:     arith.cmpi ult, %[[TX]], %c1
//       CHECK:     gpu.barrier
//       CHECK:     %[[LEAD:.*]] = arith.cmpi eq, %[[TX]], %c0
//       CHECK:     scf.if %[[LEAD]] {
//       CHECK:       %[[BLOCK:.*]] = memref.load %[[SHARED]][%c0
//       CHECK:       %[[PTR:.*]] = llvm.inttoptr
//       CHECK:       %[[SEEN:.*]] = llvm.load %[[PTR]] : !llvm.ptr -> i32
//       CHECK:       scf.while (%[[EXPECTED:.*]] = %[[SEEN]]) : (i32) -> i32 {
//       CHECK:         %[[CUR:.*]] = arith.bitcast %[[EXPECTED]] : i32 to f32
//       CHECK:         %[[NEW:.*]] = arith.maximumf %[[CUR]], %[[BLOCK]]
//       CHECK:         %[[BITS:.*]] = arith.bitcast %[[NEW]] : f32 to i32
//       CHECK:         %[[PAIR:.*]] = llvm.cmpxchg %[[PTR]], %[[EXPECTED]], %[[BITS]]
//       CHECK:         %[[OK:.*]] = llvm.extractvalue %[[PAIR]][1]
//       CHECK:         %[[RETRY:.*]] = arith.xori %[[OK]], %true
//       CHECK:         scf.condition(%[[RETRY]])
//       CHECK:     gpu.terminator
//   CHECK-NOT: linalg.generic
#in = affine_map<(b, t, h) -> (b, t, h)>
#out = affine_map<(b, t, h) -> ()>
func.func @residual(%h: memref<?x?x4xf32>, %f: memref<?x?x4xf32>, %r: memref<f32>) {
  %one = arith.constant 1.0 : f32
  linalg.generic {indexing_maps = [#in, #in, #out], iterator_types = ["reduction", "reduction", "reduction"]}
      ins(%h, %f : memref<?x?x4xf32>, memref<?x?x4xf32>) outs(%r : memref<f32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.subf %a, %b : f32
    %m = math.absf %d : f32
    %s = arith.addf %m, %one : f32
    %q = arith.divf %m, %s : f32
    %x = arith.maximumf %acc, %q : f32
    linalg.yield %x : f32
  }
  return
}

// -----

// A sum starts from 0 and folds with addf, the accumulator on either side.
// CHECK-LABEL: func.func @sum
//       CHECK: gpu.launch
//       CHECK:   %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
//       CHECK:   scf.for {{.*}} iter_args(%[[ACC:.*]] = %[[ZERO]])
//       CHECK:     %[[X:.*]] = memref.load
//       CHECK:     arith.addf %[[X]], %[[ACC]]
#v = affine_map<(i) -> (i)>
#s = affine_map<(i) -> ()>
func.func @sum(%x: memref<?xf32>, %r: memref<f32>) {
  linalg.generic {indexing_maps = [#v, #s], iterator_types = ["reduction"]}
      ins(%x : memref<?xf32>) outs(%r : memref<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.addf %a, %acc : f32
    linalg.yield %y : f32
  }
  return
}

// -----

// Left alone: a reduction that keeps a parallel loop (one thread per output
// element serves it), a fold the combiner does not end (the accumulator
// used twice), and work already inside a parallel loop or a forall (both
// become kernels, where the reduction is one thread's loop).
// CHECK-LABEL: func.func @not_full_reductions
//   CHECK-NOT: gpu.launch
//       CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
//       CHECK: linalg.generic {{.*}}iterator_types = ["reduction"]
//       CHECK: scf.parallel
//       CHECK:   linalg.generic {{.*}}iterator_types = ["reduction"]
//       CHECK: scf.forall
//       CHECK:   linalg.generic {{.*}}iterator_types = ["reduction"]
#m = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
#v = affine_map<(i) -> (i)>
#s = affine_map<(i) -> ()>
func.func @not_full_reductions(%x: memref<?x?xf32>, %rows: memref<?xf32>, %v: memref<?xf32>,
                               %r: memref<f32>, %n: index) {
  linalg.generic {indexing_maps = [#m, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x?xf32>) outs(%rows : memref<?xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %y = arith.maximumf %acc, %a : f32
    linalg.yield %y : f32
  }
  linalg.generic {indexing_maps = [#v, #s], iterator_types = ["reduction"]}
      ins(%v : memref<?xf32>) outs(%r : memref<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %p = arith.mulf %a, %acc : f32
    %y = arith.addf %p, %acc : f32
    linalg.yield %y : f32
  }
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    linalg.generic {indexing_maps = [#v, #s], iterator_types = ["reduction"]}
        ins(%v : memref<?xf32>) outs(%r : memref<f32>) {
    ^bb0(%a: f32, %acc: f32):
      %y = arith.addf %a, %acc : f32
      linalg.yield %y : f32
    }
    scf.reduce
  }
  scf.forall (%i) in (%n) {
    linalg.generic {indexing_maps = [#v, #s], iterator_types = ["reduction"]}
        ins(%v : memref<?xf32>) outs(%r : memref<f32>) {
    ^bb0(%a: f32, %acc: f32):
      %y = arith.addf %a, %acc : f32
      linalg.yield %y : f32
    }
  }
  return
}
