// RUN: seq-opt %s -split-input-file -pass-pipeline='builtin.module(rec.model(rec-outline-stateless,canonicalize))' | FileCheck %s

// The projection and the gate depend on the input alone: they run for all
// steps in a stateless recurrence first; the sequential one reads them.
// CHECK-LABEL: rec.model @gate
// CHECK: %[[PRE:.*]] = rec.recurrence batch %{{.*}} length %{{.*}} inputs(%{{.*}} : tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>)
// CHECK: linalg.matvec
// CHECK: math.exp
// CHECK: rec.recurrence {{.*}} inits({{.*}}) inputs(%[[PRE]] : tensor<?x?x4xf32>)
// CHECK-NOT: linalg.matvec
// CHECK-NOT: math.exp
// CHECK: rec.yield
rec.model @gate(%B: index, %T: index, %x: tensor<?x?x4xf32>, %W: tensor<4x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = ["W"], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %zero = arith.constant 0.0 : f32
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %xt: tensor<4xf32>):
    %e = tensor.empty() : tensor<4xf32>
    %f = linalg.fill ins(%zero : f32) outs(%e : tensor<4xf32>) -> tensor<4xf32>
    %p = linalg.matvec ins(%W, %xt : tensor<4x4xf32>, tensor<4xf32>) outs(%f : tensor<4xf32>) -> tensor<4xf32>
    %g = math.exp %p : tensor<4xf32>
    %m = arith.mulf %g, %h : tensor<4xf32>
    %t = math.tanh %m : tensor<4xf32>
    rec.yield %t, %t : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// A broadcast of step data ([4] to [4x8]) and what is computed elementwise
// from it are recomputed in the step: hoisted, they would be stored for all
// steps 8 times larger. What they are computed from is hoisted instead.
// CHECK-LABEL: rec.model @expansion
// CHECK: %[[PRE:.*]] = rec.recurrence batch %{{.*}} length %{{.*}} inputs(%{{.*}} : tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>)
// CHECK: math.exp %{{.*}} : tensor<4xf32>
// CHECK: rec.recurrence {{.*}} inputs(%[[PRE]] : tensor<?x?x4xf32>) -> (tensor<?x4x8xf32>, tensor<?x?x4x8xf32>)
// CHECK: linalg.broadcast
// CHECK: math.exp %{{.*}} : tensor<4x8xf32>
rec.model @expansion(%B: index, %T: index, %x: tensor<?x?x4xf32>, %A: tensor<4x8xf32>, %h0: tensor<?x4x8xf32>)
    -> (tensor<?x?x4x8xf32>, tensor<?x4x8xf32>)
    attributes {input_names = ["x"], param_names = ["A"], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4x8xf32>) inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x4x8xf32>, tensor<?x?x4x8xf32>) {
  ^bb0(%h: tensor<4x8xf32>, %xt: tensor<4xf32>):
    %delta = math.exp %xt : tensor<4xf32>
    %e = tensor.empty() : tensor<4x8xf32>
    %wide = linalg.broadcast ins(%delta : tensor<4xf32>) outs(%e : tensor<4x8xf32>) dimensions = [1]
    %scaled = arith.mulf %wide, %A : tensor<4x8xf32>
    %decay = math.exp %scaled : tensor<4x8xf32>
    %n = arith.mulf %decay, %h : tensor<4x8xf32>
    rec.yield %n, %n : tensor<4x8xf32>, tensor<4x8xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4x8xf32>, tensor<?x4x8xf32>
}
