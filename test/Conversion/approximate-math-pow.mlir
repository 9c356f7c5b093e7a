// The GPU's powf (seqc-approximate-math{expand-pow}) against C's powf, run on
// the host: exp(y log |x|) with the sign of an odd integer power of a
// negative base, NaN for a fractional power of one, and x^0 = 1^y = 1 even
// for NaN. Expected values by hand: (-2)^3 = -8, (-2)^2 = 4, (-2)^0.5 = nan,
// 2^-1 = 0.5, 0^2 = 0, 0^-1 = inf, 1^nan = 1, nan^0 = 1,
// 1.7^2.3 = 3.388695, (-2)^-1 = -0.5.
// RUN: seq-opt %s --seqc-approximate-math=expand-pow --convert-math-to-llvm --convert-to-llvm \
// RUN:   | mlir-runner -e main -entry-point-result=void -shared-libs=%runner_utils \
// RUN:   | FileCheck %s
// RUN: seq-opt %s --seqc-approximate-math=expand-pow | FileCheck %s --check-prefix=IR
// RUN: seq-opt %s --seqc-approximate-math | FileCheck %s --check-prefix=CPU

// CHECK: -8
// CHECK-NEXT: 4
// CHECK-NEXT: nan
// CHECK-NEXT: 0.5
// CHECK-NEXT: 0
// CHECK-NEXT: inf
// CHECK-NEXT: 1
// CHECK-NEXT: 1
// CHECK-NEXT: 3.388{{[67]}}
// CHECK-NEXT: -0.5

// IR-LABEL: func.func @p
//   IR-NOT: math.powf
//       IR: call @printF32

// Without the option (the CPU, which links libm), powf stays.
// CPU-LABEL: func.func @p
//       CPU: math.powf
func.func private @printF32(f32)
func.func private @printNewline()
func.func @p(%x: f32, %y: f32) {
  %r = math.powf %x, %y : f32
  call @printF32(%r) : (f32) -> ()
  call @printNewline() : () -> ()
  return
}
func.func @main() {
  %m2 = arith.constant -2.0 : f32
  %p2 = arith.constant 2.0 : f32
  %three = arith.constant 3.0 : f32
  %half = arith.constant 0.5 : f32
  %m1 = arith.constant -1.0 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %x = arith.constant 1.7 : f32
  %y = arith.constant 2.3 : f32
  %nan = arith.constant 0x7FC00000 : f32
  call @p(%m2, %three) : (f32, f32) -> ()
  call @p(%m2, %p2) : (f32, f32) -> ()
  call @p(%m2, %half) : (f32, f32) -> ()
  call @p(%p2, %m1) : (f32, f32) -> ()
  call @p(%zero, %p2) : (f32, f32) -> ()
  call @p(%zero, %m1) : (f32, f32) -> ()
  call @p(%one, %nan) : (f32, f32) -> ()
  call @p(%nan, %zero) : (f32, f32) -> ()
  call @p(%x, %y) : (f32, f32) -> ()
  call @p(%m2, %m1) : (f32, f32) -> ()
  return
}
