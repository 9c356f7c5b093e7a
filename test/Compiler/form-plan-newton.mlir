// RUN: seq-opt %s -split-input-file -test-form-plan="form=newton" -verify-diagnostics -o /dev/null

// --form newton: every nonlinear state solved by Newton iteration, dense
// Jacobians included, or an error that says why not.
// A diagonal Jacobian, for every call (no length rule).
rec.model @gated(%B: index, %T: index, %x: tensor<?x?x4xf32>, %h_init: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>) attributes {dims = {H = 4 : i64}, input_names = ["x"], output_names = ["y"], param_names = [], state_init = array<f64: 0.000000e+00>, state_names = ["h"]} {
// expected-remark@+1 {{state h: newton (Jacobian diagonal; sequential when not converged after 10 iterations)}}
  %h_final, %y = rec.recurrence batch %B length %T inits(%h_init : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x_t: tensor<4xf32>):
    %0 = arith.addf %h, %x_t : tensor<4xf32>
    %1 = math.tanh %0 : tensor<4xf32>
    rec.yield %1, %1 : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %y, %h_final : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// A dense Jacobian is taken when forced (4 x 4 <= 256 a side).
rec.model @dense(%B: index, %T: index, %x: tensor<?x?x4xf32>, %W: tensor<4x4xf32>, %h_init: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>) attributes {dims = {H = 4 : i64}, input_names = ["x"], output_names = ["y"], param_names = ["W"], state_init = array<f64: 0.000000e+00>, state_names = ["h"]} {
// expected-remark@+1 {{state h: newton (Jacobian dense (4x4); sequential when not converged after 10 iterations)}}
  %h_final, %y = rec.recurrence batch %B length %T inits(%h_init : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x_t: tensor<4xf32>):
    %0 = tensor.empty() : tensor<4xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<4xf32>) -> tensor<4xf32>
    %2 = linalg.matvec ins(%W, %h : tensor<4x4xf32>, tensor<4xf32>) outs(%1 : tensor<4xf32>) -> tensor<4xf32>
    %3 = arith.addf %2, %x_t : tensor<4xf32>
    %4 = math.tanh %3 : tensor<4xf32>
    rec.yield %4, %4 : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %y, %h_final : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// Attention's key/value history is a state no Jacobian covers.
// expected-error@+1 {{model 'attend' cannot take the Newton form: its step holds attention, whose key/value history no Jacobian covers}}
rec.model @attend(%B: index, %T: index, %q: tensor<?x?x4xf32>, %k: tensor<?x?x4xf32>, %v: tensor<?x?x4xf32>) -> tensor<?x?x4xf32> attributes {dims = {D = 4 : i64}, input_names = ["q", "k", "v"], output_names = ["o"], param_names = [], state_init = array<f64>, state_names = []} {
  %o = rec.recurrence batch %B length %T inputs(%q, %k, %v : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>) {
  ^bb0(%q_t: tensor<4xf32>, %k_t: tensor<4xf32>, %v_t: tensor<4xf32>):
    %0 = rec.attention %q_t, %k_t, %v_t {scale = 5.000000e-01 : f64} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    rec.yield %0 : tensor<4xf32>
  }
  rec.return %o : tensor<?x?x4xf32>
}
