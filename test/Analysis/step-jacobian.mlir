// RUN: seq-opt %s -split-input-file -test-step-jacobian -verify-diagnostics

// tanh(a * h + x): each element depends on itself only.
func.func @diagonal(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>, %a: tensor<4xf32>) {
  // expected-remark @+1 {{Jacobian diagonal [elementwise]}}
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %m = arith.mulf %a, %h : tensor<4xf32>
    %s = arith.addf %m, %x : tensor<4xf32>
    %n = math.tanh %s : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

// An LSTM-like pair: c depends on h through a gate, h on the new c; element
// e of both depends on element e of both: 2x2 blocks.
func.func @block_diagonal(%B: index, %T: index, %c0: tensor<?x4xf32>, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-remark @+1 {{Jacobian block-diagonal (2x2 blocks) [elementwise elementwise; elementwise elementwise]}}
  %r:3 = rec.recurrence batch %B length %T inits(%c0, %h0 : tensor<?x4xf32>, tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%c: tensor<4xf32>, %h: tensor<4xf32>, %x: tensor<4xf32>):
    %g = arith.addf %h, %x : tensor<4xf32>
    %f = math.tanh %g : tensor<4xf32>
    %cn = arith.mulf %f, %c : tensor<4xf32>
    %hn = math.tanh %cn : tensor<4xf32>
    rec.yield %cn, %hn, %hn : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

// Two states that do not interact: still diagonal.
func.func @two_diagonal(%B: index, %T: index, %a0: tensor<?x4xf32>, %b0: tensor<?x2xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-remark @+1 {{Jacobian diagonal [elementwise none; none elementwise]}}
  %r:3 = rec.recurrence batch %B length %T inits(%a0, %b0 : tensor<?x4xf32>, tensor<?x2xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x2xf32>, tensor<?x?x4xf32>) {
  ^bb0(%a: tensor<4xf32>, %b: tensor<2xf32>, %x: tensor<4xf32>):
    %s = arith.addf %a, %x : tensor<4xf32>
    %an = math.tanh %s : tensor<4xf32>
    %bn = math.exp %b : tensor<2xf32>
    rec.yield %an, %bn, %an : tensor<4xf32>, tensor<2xf32>, tensor<4xf32>
  }
  return
}

// -----

// Cross terms between states of different shapes: dense.
func.func @cross_shapes(%B: index, %T: index, %a0: tensor<?x4xf32>, %s0: tensor<?xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-remark @+1 {{Jacobian dense (5x5) [elementwise any; none elementwise]}}
  %r:3 = rec.recurrence batch %B length %T inits(%a0, %s0 : tensor<?x4xf32>, tensor<?xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?xf32>, tensor<?x?x4xf32>) {
  ^bb0(%a: tensor<4xf32>, %s: tensor<f32>, %x: tensor<4xf32>):
    %e = tensor.empty() : tensor<4xf32>
    %sb = linalg.broadcast ins(%s : tensor<f32>) outs(%e : tensor<4xf32>) dimensions = [0]
    %g = arith.mulf %sb, %a : tensor<4xf32>
    %an = math.tanh %g : tensor<4xf32>
    %sn = math.tanh %s : tensor<f32>
    rec.yield %an, %sn, %an : tensor<4xf32>, tensor<f32>, tensor<4xf32>
  }
  return
}

// -----

// Elman: W @ h mixes the elements: dense.
func.func @dense(%B: index, %T: index, %h0: tensor<?x3xf32>, %xs: tensor<?x?x3xf32>, %w: tensor<3x3xf32>) {
  // expected-remark @+1 {{Jacobian dense (3x3) [any]}}
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x3xf32>) inputs(%xs : tensor<?x?x3xf32>) -> (tensor<?x3xf32>, tensor<?x?x3xf32>) {
  ^bb0(%h: tensor<3xf32>, %x: tensor<3xf32>):
    %zero = arith.constant dense<0.0> : tensor<3xf32>
    %wh = linalg.matvec ins(%w, %h : tensor<3x3xf32>, tensor<3xf32>) outs(%zero : tensor<3xf32>) -> tensor<3xf32>
    %s = arith.addf %wh, %x : tensor<3xf32>
    %n = math.tanh %s : tensor<3xf32>
    rec.yield %n, %n : tensor<3xf32>, tensor<3xf32>
  }
  return
}

// -----

// A comparison carries no derivative: where(h > 0, h, 2 h) stays diagonal.
func.func @select(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-remark @+1 {{Jacobian diagonal [elementwise]}}
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %zero = arith.constant dense<0.0> : tensor<4xf32>
    %positive = arith.cmpf ogt, %h, %zero : tensor<4xf32>
    %twice = arith.addf %h, %h : tensor<4xf32>
    %n = arith.select %positive, %h, %twice : tensor<4xi1>, tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

// The old state passed through unchanged: the identity, diagonal.
func.func @identity(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-remark @+1 {{Jacobian diagonal [elementwise]}}
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    rec.yield %h, %x : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

// An op without a derivative rule applied to a state.
func.func @no_rule(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-remark @+1 {{not differentiable: 'math.sin' is applied to a state and has no derivative rule}}
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = math.sin %h : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

// ... but one on state-free values only is fine.
func.func @rule_not_needed(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-remark @+1 {{Jacobian diagonal [elementwise]}}
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %s = math.sin %x : tensor<4xf32>
    %n = arith.mulf %s, %h : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  return
}
