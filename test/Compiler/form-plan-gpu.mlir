// RUN: seq-opt %s -split-input-file -test-form-plan="form=auto gpu=1" -verify-diagnostics -o /dev/null

// --form auto for --target nvptx: Newton from T >= 256, counted against the
// GPU's resident threads.
rec.model @gated(%B: index, %T: index, %x: tensor<?x?x4xf32>, %h_init: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>) attributes {dims = {H = 4 : i64}, input_names = ["x"], output_names = ["y"], param_names = [], state_init = array<f64: 0.000000e+00>, state_names = ["h"]} {
// expected-remark@+1 {{state h: newton (Jacobian diagonal; for T >= 256 with at least 32 resident GPU threads per batch row, sequential otherwise; sequential when not converged after 10 iterations)}}
  %h_final, %y = rec.recurrence batch %B length %T inits(%h_init : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x_t: tensor<4xf32>):
    %0 = arith.addf %h, %x_t : tensor<4xf32>
    %1 = math.tanh %0 : tensor<4xf32>
    rec.yield %1, %1 : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %y, %h_final : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// The GPU keeps matrix states in their recurrence (its chunk kernels are not
// measured): the state is scannable but would stream.
rec.model @linear(%B: index, %T: index, %q: tensor<?x?x4xf32>, %k: tensor<?x?x4xf32>, %v: tensor<?x?x4xf32>, %S_init: tensor<?x4x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4x4xf32>) attributes {dims = {K = 4 : i64, V = 4 : i64}, input_names = ["q", "k", "v"], output_names = ["o"], param_names = [], state_init = array<f64: 0.000000e+00>, state_names = ["S"]} {
// expected-remark@+1 {{state S: sequential (scannable, but its coefficients would be broadcasts of smaller step data; streaming over time reads less memory (--form scan forces it))}}
  %S_final, %o = rec.recurrence batch %B length %T inits(%S_init : tensor<?x4x4xf32>) inputs(%q, %k, %v : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> (tensor<?x4x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%S: tensor<4x4xf32>, %q_t: tensor<4xf32>, %k_t: tensor<4xf32>, %v_t: tensor<4xf32>):
    %expanded = tensor.expand_shape %k_t [[0, 1]] output_shape [4, 1] : tensor<4xf32> into tensor<4x1xf32>
    %expanded_0 = tensor.expand_shape %v_t [[0, 1]] output_shape [1, 4] : tensor<4xf32> into tensor<1x4xf32>
    %collapsed = tensor.collapse_shape %expanded [[0, 1]] : tensor<4x1xf32> into tensor<4xf32>
    %0 = tensor.empty() : tensor<4x4xf32>
    %broadcasted = linalg.broadcast ins(%collapsed : tensor<4xf32>) outs(%0 : tensor<4x4xf32>) dimensions = [1] 
    %collapsed_1 = tensor.collapse_shape %expanded_0 [[0, 1]] : tensor<1x4xf32> into tensor<4xf32>
    %1 = tensor.empty() : tensor<4x4xf32>
    %broadcasted_2 = linalg.broadcast ins(%collapsed_1 : tensor<4xf32>) outs(%1 : tensor<4x4xf32>) dimensions = [0] 
    %2 = arith.mulf %broadcasted, %broadcasted_2 : tensor<4x4xf32>
    %3 = arith.addf %S, %2 : tensor<4x4xf32>
    %4 = tensor.empty() : tensor<4xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %5 = linalg.fill ins(%cst : f32) outs(%4 : tensor<4xf32>) -> tensor<4xf32>
    %6 = linalg.vecmat ins(%q_t, %3 : tensor<4xf32>, tensor<4x4xf32>) outs(%5 : tensor<4xf32>) -> tensor<4xf32>
    rec.yield %3, %6 : tensor<4x4xf32>, tensor<4xf32>
  }
  rec.return %o, %S_final : tensor<?x?x4xf32>, tensor<?x4x4xf32>
}
