// RUN: seq-opt %s -split-input-file -pass-pipeline='builtin.module(rec.model(rec-to-scan{streaming-when-expanding}))' | FileCheck %s
// RUN: seq-opt %s -split-input-file -pass-pipeline='builtin.module(rec.model(rec-to-scan))' | FileCheck %s --check-prefix=FORCED

// The decay is a broadcast of step data: with streaming-when-expanding the
// recurrence stays sequential (no rec.scan); without, it is scanned.
// CHECK-LABEL: rec.model @broadcast_decay
// CHECK-NOT: rec.scan
// FORCED-LABEL: rec.model @broadcast_decay
// FORCED: rec.scan
rec.model @broadcast_decay(%B: index, %T: index, %x: tensor<?x?x4xf32>, %h0: tensor<?x4x8xf32>)
    -> (tensor<?x?x4x8xf32>, tensor<?x4x8xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4x8xf32>) inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x4x8xf32>, tensor<?x?x4x8xf32>) {
  ^bb0(%h: tensor<4x8xf32>, %xt: tensor<4xf32>):
    %e = tensor.empty() : tensor<4x8xf32>
    %wide = linalg.broadcast ins(%xt : tensor<4xf32>) outs(%e : tensor<4x8xf32>) dimensions = [1]
    %n = arith.mulf %wide, %h : tensor<4x8xf32>
    rec.yield %n, %n : tensor<4x8xf32>, tensor<4x8xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4x8xf32>, tensor<?x4x8xf32>
}

// -----

// Coefficients that are the step's own data are scanned either way.
// CHECK-LABEL: rec.model @diagonal
// CHECK: rec.scan
// FORCED-LABEL: rec.model @diagonal
// FORCED: rec.scan
rec.model @diagonal(%B: index, %T: index, %a: tensor<?x?x4xf32>, %b: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["a", "b"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%a, %b : tensor<?x?x4xf32>, tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %at: tensor<4xf32>, %bt: tensor<4xf32>):
    %m = arith.mulf %at, %h : tensor<4xf32>
    %n = arith.addf %m, %bt : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}
