// RUN: seq-opt %s -seqc-approximate-math | FileCheck %s

// exp and log1p on f32 become arithmetic (no math ops, no libm calls left);
// sqrt, which LLVM vectorises as an instruction, stays.
// CHECK-LABEL: func.func @gates
// CHECK-NOT: math.exp
// CHECK-NOT: math.log1p
// CHECK: math.sqrt
// CHECK: return
func.func @gates(%x: f32) -> (f32, f32, f32) {
  %e = math.exp %x : f32
  %l = math.log1p %x : f32
  %s = math.sqrt %x : f32
  return %e, %l, %s : f32, f32, f32
}
