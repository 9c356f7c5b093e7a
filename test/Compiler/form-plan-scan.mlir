// RUN: seq-opt %s -split-input-file -test-form-plan="form=scan" -verify-diagnostics -o /dev/null

// --form scan: every state scanned, or an error on the model that says which
// state is not affine in itself and why.
// A scan forced on coefficients that auto would stream.
rec.model @streamed(%B: index, %T: index, %x: tensor<?x?x4xf32>, %dt: tensor<?x?x4xf32>, %A: tensor<4x2xf32>, %h_init: tensor<?x4x2xf32>) -> (tensor<?x?x4xf32>, tensor<?x4x2xf32>) attributes {dims = {D = 4 : i64, N = 2 : i64}, input_names = ["x", "dt"], output_names = ["y"], param_names = ["A"], state_init = array<f64: 0.000000e+00>, state_names = ["h"]} {
// expected-remark@+1 {{state h: scan (affine in itself with an elementwise coefficient)}}
  %h_final, %y = rec.recurrence batch %B length %T inits(%h_init : tensor<?x4x2xf32>) inputs(%x, %dt : tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> (tensor<?x4x2xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4x2xf32>, %x_t: tensor<4xf32>, %dt_t: tensor<4xf32>):
    %expanded = tensor.expand_shape %dt_t [[0, 1]] output_shape [4, 1] : tensor<4xf32> into tensor<4x1xf32>
    %collapsed = tensor.collapse_shape %expanded [[0, 1]] : tensor<4x1xf32> into tensor<4xf32>
    %0 = tensor.empty() : tensor<4x2xf32>
    %broadcasted = linalg.broadcast ins(%collapsed : tensor<4xf32>) outs(%0 : tensor<4x2xf32>) dimensions = [1] 
    %1 = arith.mulf %broadcasted, %A : tensor<4x2xf32>
    %2 = math.exp %1 : tensor<4x2xf32>
    %3 = arith.mulf %2, %h : tensor<4x2xf32>
    %expanded_0 = tensor.expand_shape %x_t [[0, 1]] output_shape [4, 1] : tensor<4xf32> into tensor<4x1xf32>
    %collapsed_1 = tensor.collapse_shape %expanded_0 [[0, 1]] : tensor<4x1xf32> into tensor<4xf32>
    %4 = tensor.empty() : tensor<4x2xf32>
    %broadcasted_2 = linalg.broadcast ins(%collapsed_1 : tensor<4xf32>) outs(%4 : tensor<4x2xf32>) dimensions = [1] 
    %5 = arith.addf %3, %broadcasted_2 : tensor<4x2xf32>
    %6 = tensor.empty() : tensor<4xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %7 = linalg.fill ins(%cst : f32) outs(%6 : tensor<4xf32>) -> tensor<4xf32>
    %reduced = linalg.reduce ins(%5 : tensor<4x2xf32>) outs(%7 : tensor<4xf32>) dimensions = [1] 
      (%in: f32, %init: f32) {
        %8 = arith.addf %in, %init : f32
        linalg.yield %8 : f32
      }
    rec.yield %5, %reduced : tensor<4x2xf32>, tensor<4xf32>
  }
  rec.return %y, %h_final : tensor<?x?x4xf32>, tensor<?x4x2xf32>
}

// -----

// A nonlinear state cannot take the scan form.
// expected-error@+1 {{model 'gated' cannot take the scan form: state 'h' is nonlinear: 'math.tanh' is applied to a state}}
rec.model @gated(%B: index, %T: index, %x: tensor<?x?x4xf32>, %h_init: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>) attributes {dims = {H = 4 : i64}, input_names = ["x"], output_names = ["y"], param_names = [], state_init = array<f64: 0.000000e+00>, state_names = ["h"]} {
  %h_final, %y = rec.recurrence batch %B length %T inits(%h_init : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x_t: tensor<4xf32>):
    %0 = arith.addf %h, %x_t : tensor<4xf32>
    %1 = math.tanh %0 : tensor<4xf32>
    rec.yield %1, %1 : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %y, %h_final : tensor<?x?x4xf32>, tensor<?x4xf32>
}
