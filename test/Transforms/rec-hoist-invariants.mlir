// RUN: seq-opt %s -pass-pipeline='builtin.module(rec.model(rec-hoist-invariants))' | FileCheck %s

// exp(-A) depends on a param alone: computed once, before the recurrence.
// The work on the step input and on the state stays in the step.
// CHECK-LABEL: rec.model @decay
// CHECK: %[[E:.*]] = math.exp %{{.*}} : tensor<4xf32>
// CHECK: %[[NEG:.*]] = arith.negf %[[E]] : tensor<4xf32>
// CHECK: rec.recurrence
// CHECK-NOT: math.exp
// CHECK: arith.mulf %[[NEG]], %{{.*}} : tensor<4xf32>
// CHECK: rec.yield
rec.model @decay(%B: index, %T: index, %x: tensor<?x?x4xf32>, %A: tensor<4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = ["A"], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %xt: tensor<4xf32>):
    %e = math.exp %A : tensor<4xf32>
    %decay = arith.negf %e : tensor<4xf32>
    %m = arith.mulf %decay, %h : tensor<4xf32>
    %n = arith.addf %m, %xt : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}
