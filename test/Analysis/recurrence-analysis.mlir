// RUN: seq-opt %s -split-input-file -test-recurrence-analysis -verify-diagnostics

// h = a * h + x: elementwise-affine, scannable.
func.func @affine(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>, %a: tensor<4xf32>) {
  // expected-remark @+2 {{state '': elementwise-affine}}
  // expected-remark @+1 {{scannable}}
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    // expected-remark @+1 {{depends on a state}}
    %m = arith.mulf %a, %h : tensor<4xf32>
    // expected-remark @+1 {{depends on a state}}
    %n = arith.addf %m, %x : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

// h = tanh(h + x): nonlinear; the state-free %e is marked as such (no remark).
func.func @nonlinear(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-remark @+2 {{state '': nonlinear ('math.tanh' is applied to a state)}}
  // expected-remark @+1 {{not scannable: state '' is nonlinear: 'math.tanh' is applied to a state}}
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %e = math.exp %x : tensor<4xf32>
    // expected-remark @+1 {{depends on a state}}
    %s = arith.addf %h, %e : tensor<4xf32>
    // expected-remark @+1 {{depends on a state}}
    %n = math.tanh %s : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

// h = h * h: a product of two state-dependent values.
func.func @product(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-remark @+2 {{state '': nonlinear ('arith.mulf' multiplies two values that depend on states)}}
  // expected-remark @+1 {{not scannable}}
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    // expected-remark @+1 {{depends on a state}}
    %n = arith.mulf %h, %h : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  return
}
