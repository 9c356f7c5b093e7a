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
