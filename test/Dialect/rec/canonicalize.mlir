// RUN: seq-opt %s -split-input-file -canonicalize | FileCheck %s

// An output that yields a step input unchanged is replaced by that input's
// sequence, and the then-unread output and input go away.
// CHECK-LABEL: rec.model @pass_through
// CHECK-SAME: %[[X:[a-z0-9_]+]]: tensor<?x?x4xf32>
// CHECK: %[[S:.*]] = rec.recurrence batch %{{.*}} length %{{.*}} inputs(%{{.*}} : tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>)
// CHECK-NOT: rec.recurrence
// CHECK: rec.return %[[X]], %[[S]]
rec.model @pass_through(%B: index, %T: index, %x: tensor<?x?x4xf32>, %z: tensor<?x?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
    attributes {input_names = ["x", "z"], param_names = [], state_names = [],
                output_names = ["y", "s"], state_init = array<f64>} {
  %ys, %ss = rec.recurrence batch %B length %T inputs(%x, %z : tensor<?x?x4xf32>, tensor<?x?x4xf32>)
      -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%xt: tensor<4xf32>, %zt: tensor<4xf32>):
    %s = math.exp %zt : tensor<4xf32>
    rec.yield %xt, %s : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %ss : tensor<?x?x4xf32>, tensor<?x?x4xf32>
}

// -----

// An output nobody reads is not computed; the states and their finals stay.
// CHECK-LABEL: rec.model @dead_output
// CHECK: %[[F:.*]], %[[Y:.*]] = rec.recurrence {{.*}} -> (tensor<?x4xf32>, tensor<?x?x4xf32>)
// CHECK-NOT: math.tanh
// CHECK: rec.yield %{{.*}}, %{{.*}} : tensor<4xf32>, tensor<4xf32>
// CHECK: rec.return %[[Y]], %[[F]]
rec.model @dead_output(%B: index, %T: index, %x: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys, %unread = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %xt: tensor<4xf32>):
    %n = arith.addf %h, %xt : tensor<4xf32>
    %t = math.tanh %n : tensor<4xf32>
    rec.yield %n, %n, %t : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// A recurrence none of whose results is read is erased.
// CHECK-LABEL: rec.model @all_dead
// CHECK-NOT: rec.recurrence
// CHECK: rec.return %{{.*}} : tensor<?x?x4xf32>
rec.model @all_dead(%B: index, %T: index, %x: tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = [],
                output_names = ["y"], state_init = array<f64>} {
  %unread = rec.recurrence batch %B length %T inputs(%x : tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>) {
  ^bb0(%xt: tensor<4xf32>):
    %e = math.exp %xt : tensor<4xf32>
    rec.yield %e : tensor<4xf32>
  }
  rec.return %x : tensor<?x?x4xf32>
}

// -----

// A pass-through of a state's block argument is not an input: it stays.
// CHECK-LABEL: rec.model @state_is_not_input
// CHECK: rec.recurrence {{.*}} -> (tensor<?x4xf32>, tensor<?x?x4xf32>)
rec.model @state_is_not_input(%B: index, %T: index, %x: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %xt: tensor<4xf32>):
    %n = arith.addf %h, %xt : tensor<4xf32>
    rec.yield %n, %h : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// Two outputs of one yielded value are one sequence.
// CHECK-LABEL: rec.model @equal_outputs
// CHECK: %[[S:.*]] = rec.recurrence {{.*}} -> (tensor<?x?x4xf32>)
// CHECK: rec.yield %{{.*}} : tensor<4xf32>
// CHECK: rec.return %[[S]], %[[S]]
rec.model @equal_outputs(%B: index, %T: index, %x: tensor<?x?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = [],
                output_names = ["y", "z"], state_init = array<f64>} {
  %ys, %zs = rec.recurrence batch %B length %T inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%xt: tensor<4xf32>):
    %e = math.exp %xt : tensor<4xf32>
    rec.yield %e, %e : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %zs : tensor<?x?x4xf32>, tensor<?x?x4xf32>
}
