// RUN: seq-opt %s --pass-pipeline='builtin.module(func.func(seqc-fuse-elementwise))' --split-input-file | FileCheck %s

#id2 = affine_map<(i, k) -> (i, k)>
#ik = affine_map<(i, j, k) -> (i, k)>
#jk = affine_map<(i, j, k) -> (j, k)>
#ij = affine_map<(i, j, k) -> (i, j)>

// q exp(b), contracted with k over k: the contraction's loop j does not
// index it, so fused it would be computed again for every j. It stays
// apart, its exps once per (i, k).
// CHECK-LABEL: func.func @not_into_a_contraction
// CHECK: %[[SCALED:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1
// CHECK:   math.exp
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[SCALED]], %arg2
// CHECK-NOT: math.exp
func.func @not_into_a_contraction(%q: tensor<16x8xf32>, %b: tensor<16x8xf32>, %k: tensor<16x8xf32>)
    -> tensor<16x16xf32> {
  %e = tensor.empty() : tensor<16x8xf32>
  %scaled = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%q, %b : tensor<16x8xf32>, tensor<16x8xf32>) outs(%e : tensor<16x8xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %ex = math.exp %y : f32
    %m = arith.mulf %x, %ex : f32
    linalg.yield %m : f32
  } -> tensor<16x8xf32>
  %zero = arith.constant 0.0 : f32
  %e2 = tensor.empty() : tensor<16x16xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e2 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %s = linalg.generic {indexing_maps = [#ik, #jk, #ij], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%scaled, %k : tensor<16x8xf32>, tensor<16x8xf32>) outs(%z : tensor<16x16xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %m = arith.mulf %x, %y : f32
    %a = arith.addf %o, %m : f32
    linalg.yield %a : f32
  } -> tensor<16x16xf32>
  return %s : tensor<16x16xf32>
}

// -----

#id2 = affine_map<(i, k) -> (i, k)>
#ijk = affine_map<(i, j, k) -> (i, j, k)>
#ij = affine_map<(i, j, k) -> (i, j)>

// Into a contraction that indexes it by every loop (each element used
// once), and into an elementwise consumer, it is fused as upstream does.
// CHECK-LABEL: func.func @fused
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK:   math.exp
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]}
// CHECK:   math.tanh
// CHECK:   arith.addf
// CHECK-NOT: linalg.generic
func.func @fused(%a: tensor<4x4x8xf32>, %b: tensor<4x4xf32>) -> (tensor<4x4xf32>, tensor<4x4xf32>) {
  %e = tensor.empty() : tensor<4x4x8xf32>
  %ex = linalg.generic {indexing_maps = [#ijk, #ijk], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%a : tensor<4x4x8xf32>) outs(%e : tensor<4x4x8xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = math.exp %x : f32
    linalg.yield %y : f32
  } -> tensor<4x4x8xf32>
  %zero = arith.constant 0.0 : f32
  %e2 = tensor.empty() : tensor<4x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %sum = linalg.generic {indexing_maps = [#ijk, #ij], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ex : tensor<4x4x8xf32>) outs(%z : tensor<4x4xf32>) {
  ^bb0(%x: f32, %o: f32):
    %s = arith.addf %o, %x : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  %t = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%b : tensor<4x4xf32>) outs(%e2 : tensor<4x4xf32>) {
  ^bb0(%x: f32, %o: f32):
    %y = math.tanh %x : f32
    linalg.yield %y : f32
  } -> tensor<4x4xf32>
  %u = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%t, %b : tensor<4x4xf32>, tensor<4x4xf32>) outs(%e2 : tensor<4x4xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<4x4xf32>
  return %sum, %u : tensor<4x4xf32>, tensor<4x4xf32>
}
