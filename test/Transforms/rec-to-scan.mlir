// RUN: seq-opt %s -pass-pipeline='builtin.module(rec.model(rec-to-scan,canonicalize))' | FileCheck %s

// h = a * h + x with y = 2 * h: the coefficients a for every step (x is the
// offset as it is: no copy), one scan, and the output from the updated states,
// in a stateless recurrence that no longer reads x.
// CHECK-LABEL: rec.model @decay
// CHECK-SAME: (%{{.*}}: index, %{{.*}}: index, %[[X:.*]]: tensor<?x?x4xf32>, %[[A:.*]]: tensor<4xf32>,
// CHECK: %[[COEFF:.*]] = rec.recurrence batch %{{.*}} length %{{.*}} -> (tensor<?x?x4xf32>)
// CHECK-NEXT: rec.yield %[[A]] : tensor<4xf32>
// CHECK: %[[S:.*]], %[[F:.*]] = rec.scan %[[COEFF]], %[[X]], init %{{.*}} : tensor<?x?x4xf32>, tensor<?x4xf32>
// CHECK: %[[Y:.*]] = rec.recurrence batch %{{.*}} length %{{.*}} inputs(%[[S]] : tensor<?x?x4xf32>)
// CHECK: ^bb0(%[[HN:.*]]: tensor<4xf32>):
// CHECK: %[[TWICE:.*]] = arith.mulf %[[HN]], %{{.*}}
// CHECK: rec.yield %[[TWICE]]
// CHECK: rec.return %[[Y]], %[[F]]
rec.model @decay(%B: index, %T: index, %x: tensor<?x?x4xf32>, %a: tensor<4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = ["a"], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %xt: tensor<4xf32>):
    %m = arith.mulf %a, %h : tensor<4xf32>
    %n = arith.addf %m, %xt : tensor<4xf32>
    %two = arith.constant dense<2.0> : tensor<4xf32>
    %y = arith.mulf %two, %n : tensor<4xf32>
    rec.yield %n, %y : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// y = h * x read before h's update: the outputs' recurrence also takes the
// scanned states shifted by a step (the initial state at t = 0), and y
// reads those.
// CHECK-LABEL: rec.model @previous
// CHECK-SAME: %[[H0:[a-zA-Z0-9_]+]]: tensor<?x4xf32>) -> (
// CHECK: %[[S:.*]], %{{.*}} = rec.scan
// CHECK: %[[BEFORE:.*]] = scf.if
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 0]
// CHECK: %[[EARLIER:.*]] = tensor.extract_slice %[[S]][0, 0, 0]
// CHECK: tensor.insert_slice %[[EARLIER]] into %{{.*}}[0, 1, 0]
// CHECK: rec.recurrence batch %{{.*}} length %{{.*}} inputs(%{{.*}}, %[[BEFORE]] : tensor<?x?x4xf32>, tensor<?x?x4xf32>)
// CHECK: ^bb0(%[[XT:[a-zA-Z0-9_]+]]: tensor<4xf32>, %[[OLD:[a-zA-Z0-9_]+]]: tensor<4xf32>):
// CHECK: %[[Y:.*]] = arith.mulf %[[OLD]], %[[XT]]
// CHECK: rec.yield %[[Y]]
rec.model @previous(%B: index, %T: index, %x: tensor<?x?x4xf32>, %a: tensor<4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = ["a"], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %xt: tensor<4xf32>):
    %y = arith.mulf %h, %xt : tensor<4xf32>
    %ah = arith.mulf %a, %h : tensor<4xf32>
    %n = arith.addf %ah, %xt : tensor<4xf32>
    rec.yield %n, %y : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// A recurrence running backwards in time (an adjoint: g = a * g + dy, its
// outputs reading g before the step's update) becomes a reverse scan; the
// states before each step are the scanned ones shifted the other way: the
// initial state at t = T-1, and step t+1's state at t.
// CHECK-LABEL: rec.model @backwards
// CHECK-SAME: %[[G0:[a-zA-Z0-9_]+]]: tensor<?x4xf32>) -> (
// CHECK: %[[S:.*]], %[[F:.*]] = rec.scan reverse %{{.*}}, %{{.*}}, init %[[G0]] : tensor<?x?x4xf32>, tensor<?x4xf32>
// CHECK: %[[BEFORE:.*]] = scf.if
// CHECK: %[[LAST:.*]] = arith.subi %{{.*}}, %c1 : index
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[0, %[[LAST]], 0]
// CHECK: %[[LATER:.*]] = tensor.extract_slice %[[S]][0, 1, 0] [%{{.*}}, %[[LAST]], 4]
// CHECK: tensor.insert_slice %[[LATER]] into %{{.*}}[0, 0, 0] [%{{.*}}, %[[LAST]], 4]
// CHECK: %[[Y:.*]] = rec.recurrence batch %{{.*}} length %{{.*}} inputs(%{{.*}}, %[[BEFORE]] : tensor<?x?x4xf32>, tensor<?x?x4xf32>)
// CHECK: ^bb0(%[[XT:[a-zA-Z0-9_]+]]: tensor<4xf32>, %[[OLD:[a-zA-Z0-9_]+]]: tensor<4xf32>):
// CHECK: arith.mulf %[[OLD]], %[[XT]]
// CHECK: rec.return %[[Y]], %[[F]]
rec.model @backwards(%B: index, %T: index, %x: tensor<?x?x4xf32>, %a: tensor<4xf32>, %g0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = ["a"], state_names = ["g"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %gT, %ys = rec.recurrence batch %B length %T inits(%g0 : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%g: tensor<4xf32>, %xt: tensor<4xf32>):
    %y = arith.mulf %g, %xt : tensor<4xf32>
    %ag = arith.mulf %a, %g : tensor<4xf32>
    %n = arith.addf %ag, %xt : tensor<4xf32>
    rec.yield %n, %y : tensor<4xf32>, tensor<4xf32>
  } {reverse}
  rec.return %ys, %gT : tensor<?x?x4xf32>, tensor<?x4xf32>
}
