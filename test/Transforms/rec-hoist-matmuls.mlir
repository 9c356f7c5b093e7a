// RUN: seq-opt %s -pass-pipeline='builtin.module(rec.model(rec-hoist-matmuls))' -split-input-file | FileCheck %s

// W @ x_t with W a param and x_t a step input: one contraction over all
// (b, t) with the transposed W, before the recurrence; its [B, T, H] result
// is a new step input that replaces the matvec.
// CHECK-LABEL: rec.model @project
// CHECK-SAME: (%[[B:.*]]: index, %[[T:.*]]: index, %[[X:.*]]: tensor<?x?x4xf32>, %[[W:.*]]: tensor<8x4xf32>
// CHECK: %[[WT:.*]] = linalg.transpose ins(%[[W]] : tensor<8x4xf32>) outs(%{{.*}} : tensor<4x8xf32>) permutation = [1, 0]
// CHECK: %[[E:.*]] = tensor.empty(%[[B]], %[[T]]) : tensor<?x?x8xf32>
// CHECK: %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[E]] : tensor<?x?x8xf32>)
// CHECK: %[[P:.*]] = linalg.generic {{{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[X]], %[[WT]] : tensor<?x?x4xf32>, tensor<4x8xf32>) outs(%[[Z]] : tensor<?x?x8xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: rec.recurrence batch %[[B]] length %[[T]] inits(%{{.*}} : tensor<?x8xf32>) inputs(%[[X]], %[[P]] : tensor<?x?x4xf32>, tensor<?x?x8xf32>)
// CHECK: ^bb0(%[[H:.*]]: tensor<8xf32>, %{{.*}}: tensor<4xf32>, %[[WX:.*]]: tensor<8xf32>):
// CHECK-NOT: linalg.matvec
// CHECK: arith.addf %[[H]], %[[WX]]
rec.model @project(%B: index, %T: index, %x: tensor<?x?x4xf32>, %W: tensor<8x4xf32>, %h0: tensor<?x8xf32>)
    -> (tensor<?x?x8xf32>, tensor<?x8xf32>)
    attributes {input_names = ["x"], param_names = ["W"], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>, dims = {D = 4 : i64, H = 8 : i64}} {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x8xf32>) inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x8xf32>, tensor<?x?x8xf32>) {
  ^bb0(%h: tensor<8xf32>, %xt: tensor<4xf32>):
    %wx = linalg.matvec ins(%W, %xt : tensor<8x4xf32>, tensor<4xf32>) outs(%z : tensor<8xf32>) -> tensor<8xf32>
    %n = arith.addf %h, %wx : tensor<8xf32>
    rec.yield %n, %n : tensor<8xf32>, tensor<8xf32>
  }
  rec.return %ys, %hT : tensor<?x?x8xf32>, tensor<?x8xf32>
}

// -----

// Not hoisted: a matvec of the state (it recurs), a matrix made in the step
// (it varies with the step), and one that accumulates into a non-zero init.
// CHECK-LABEL: rec.model @keep
// CHECK-NOT: linalg.generic
// CHECK: rec.recurrence
// CHECK-COUNT-3: linalg.matvec
rec.model @keep(%B: index, %T: index, %x: tensor<?x?x8xf32>, %W: tensor<8x8xf32>, %h0: tensor<?x8xf32>)
    -> (tensor<?x?x8xf32>, tensor<?x8xf32>)
    attributes {input_names = ["x"], param_names = ["W"], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>, dims = {H = 8 : i64}} {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  %o = linalg.fill ins(%one : f32) outs(%e : tensor<8xf32>) -> tensor<8xf32>
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x8xf32>) inputs(%x : tensor<?x?x8xf32>)
      -> (tensor<?x8xf32>, tensor<?x?x8xf32>) {
  ^bb0(%h: tensor<8xf32>, %xt: tensor<8xf32>):
    %wh = linalg.matvec ins(%W, %h : tensor<8x8xf32>, tensor<8xf32>) outs(%z : tensor<8xf32>) -> tensor<8xf32>
    %m = arith.mulf %W, %W : tensor<8x8xf32>
    %mx = linalg.matvec ins(%m, %xt : tensor<8x8xf32>, tensor<8xf32>) outs(%z : tensor<8xf32>) -> tensor<8xf32>
    %ox = linalg.matvec ins(%W, %xt : tensor<8x8xf32>, tensor<8xf32>) outs(%o : tensor<8xf32>) -> tensor<8xf32>
    %s = arith.addf %wh, %mx : tensor<8xf32>
    %n = arith.addf %s, %ox : tensor<8xf32>
    rec.yield %n, %n : tensor<8xf32>, tensor<8xf32>
  }
  rec.return %ys, %hT : tensor<?x?x8xf32>, tensor<?x8xf32>
}

// -----

// A multi-head projection, [2, 4, 3] @ x_t written as a linalg.generic: a
// matvec of W viewed as [8, 3] (made before the recurrence), hoisted like
// any other, whose [8] row the step views as [2, 4] again.
// CHECK-LABEL: rec.model @heads
// CHECK-SAME: (%[[B:.*]]: index, %[[T:.*]]: index, %[[X:.*]]: tensor<?x?x3xf32>, %[[W:.*]]: tensor<2x4x3xf32>
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[W]] {{\[}}[0, 1], [2]] : tensor<2x4x3xf32> into tensor<8x3xf32>
// CHECK: %[[WT:.*]] = linalg.transpose ins(%[[FLAT]] : tensor<8x3xf32>)
// CHECK: %[[P:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[WT]] : tensor<?x?x3xf32>, tensor<3x8xf32>)
// CHECK: rec.recurrence batch %[[B]] length %[[T]] inputs(%[[X]], %[[P]] : tensor<?x?x3xf32>, tensor<?x?x8xf32>)
// CHECK: ^bb0(%{{.*}}: tensor<3xf32>, %[[ROW:.*]]: tensor<8xf32>):
// CHECK-NOT: linalg.generic
// CHECK: %[[HEADS:.*]] = tensor.expand_shape %[[ROW]] {{\[}}[0, 1]] output_shape [2, 4] : tensor<8xf32> into tensor<2x4xf32>
// CHECK: math.tanh %[[HEADS]]
#w3 = affine_map<(h, k, d) -> (h, k, d)>
#x3 = affine_map<(h, k, d) -> (d)>
#y3 = affine_map<(h, k, d) -> (h, k)>
rec.model @heads(%B: index, %T: index, %x: tensor<?x?x3xf32>, %W: tensor<2x4x3xf32>)
    -> tensor<?x?x2x4xf32>
    attributes {input_names = ["x"], param_names = ["W"], state_names = [],
                output_names = ["y"], state_init = array<f64>, dims = {D = 3 : i64}} {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x4xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<2x4xf32>) -> tensor<2x4xf32>
  %ys = rec.recurrence batch %B length %T inputs(%x : tensor<?x?x3xf32>) -> (tensor<?x?x2x4xf32>) {
  ^bb0(%xt: tensor<3xf32>):
    %wx = linalg.generic {indexing_maps = [#w3, #x3, #y3], iterator_types = ["parallel", "parallel", "reduction"]}
        ins(%W, %xt : tensor<2x4x3xf32>, tensor<3xf32>) outs(%z : tensor<2x4xf32>) {
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %m = arith.mulf %a, %b : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
    } -> tensor<2x4xf32>
    %t = math.tanh %wx : tensor<2x4xf32>
    rec.yield %t : tensor<2x4xf32>
  }
  rec.return %ys : tensor<?x?x2x4xf32>
}
