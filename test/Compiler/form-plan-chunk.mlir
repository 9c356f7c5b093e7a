// RUN: seq-opt %s -split-input-file -test-form-plan="form=chunk chunk-size=32" -verify-diagnostics -o /dev/null

// --form chunk: matrix states and attention in chunks of --chunk-size, the
// rest of the cell scanned where it can be, or an error naming each state
// that is not a matrix state.
// An outer-product matrix state without decay.
rec.model @linear(%B: index, %T: index, %q: tensor<?x?x4xf32>, %k: tensor<?x?x4xf32>, %v: tensor<?x?x4xf32>, %S_init: tensor<?x4x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4x4xf32>) attributes {dims = {K = 4 : i64, V = 4 : i64}, input_names = ["q", "k", "v"], output_names = ["o"], param_names = [], state_init = array<f64: 0.000000e+00>, state_names = ["S"]} {
// expected-remark@+1 {{state S: chunk (outer-product updates with no decay, read by a query, in chunks of 32 steps)}}
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

// -----

// The matrix state chunked, the normaliser beside it scanned.
rec.model @beside(%B: index, %T: index, %q: tensor<?x?x4xf32>, %k: tensor<?x?x4xf32>, %v: tensor<?x?x4xf32>, %f: tensor<1xf32>, %S_init: tensor<?x4x4xf32>, %n_init: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4x4xf32>, tensor<?x4xf32>) attributes {dims = {K = 4 : i64, V = 4 : i64}, input_names = ["q", "k", "v"], output_names = ["o"], param_names = ["f"], state_init = array<f64: 0.000000e+00, 0.000000e+00>, state_names = ["S", "n"]} {
// expected-remark@+2 {{state S: chunk (outer-product updates with a decay per head, read by a query, in chunks of 32 steps; sequential for a call with a negative decay)}}
// expected-remark@+1 {{state n: scan (not a matrix state: it is not a matrix; affine in itself with an elementwise coefficient)}}
  %S_final, %n_final, %o = rec.recurrence batch %B length %T inits(%S_init, %n_init : tensor<?x4x4xf32>, tensor<?x4xf32>) inputs(%q, %k, %v : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> (tensor<?x4x4xf32>, tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%S: tensor<4x4xf32>, %n: tensor<4xf32>, %q_t: tensor<4xf32>, %k_t: tensor<4xf32>, %v_t: tensor<4xf32>):
    %collapsed = tensor.collapse_shape %f [] : tensor<1xf32> into tensor<f32>
    %0 = tensor.empty() : tensor<4x4xf32>
    %broadcasted = linalg.broadcast ins(%collapsed : tensor<f32>) outs(%0 : tensor<4x4xf32>) dimensions = [0, 1] 
    %1 = arith.mulf %broadcasted, %S : tensor<4x4xf32>
    %expanded = tensor.expand_shape %k_t [[0, 1]] output_shape [4, 1] : tensor<4xf32> into tensor<4x1xf32>
    %expanded_0 = tensor.expand_shape %v_t [[0, 1]] output_shape [1, 4] : tensor<4xf32> into tensor<1x4xf32>
    %collapsed_1 = tensor.collapse_shape %expanded [[0, 1]] : tensor<4x1xf32> into tensor<4xf32>
    %2 = tensor.empty() : tensor<4x4xf32>
    %broadcasted_2 = linalg.broadcast ins(%collapsed_1 : tensor<4xf32>) outs(%2 : tensor<4x4xf32>) dimensions = [1] 
    %collapsed_3 = tensor.collapse_shape %expanded_0 [[0, 1]] : tensor<1x4xf32> into tensor<4xf32>
    %3 = tensor.empty() : tensor<4x4xf32>
    %broadcasted_4 = linalg.broadcast ins(%collapsed_3 : tensor<4xf32>) outs(%3 : tensor<4x4xf32>) dimensions = [0] 
    %4 = arith.mulf %broadcasted_2, %broadcasted_4 : tensor<4x4xf32>
    %5 = arith.addf %1, %4 : tensor<4x4xf32>
    %collapsed_5 = tensor.collapse_shape %f [] : tensor<1xf32> into tensor<f32>
    %6 = tensor.empty() : tensor<4xf32>
    %broadcasted_6 = linalg.broadcast ins(%collapsed_5 : tensor<f32>) outs(%6 : tensor<4xf32>) dimensions = [0] 
    %7 = arith.mulf %broadcasted_6, %n : tensor<4xf32>
    %8 = arith.addf %7, %k_t : tensor<4xf32>
    %9 = tensor.empty() : tensor<4xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %10 = linalg.fill ins(%cst : f32) outs(%9 : tensor<4xf32>) -> tensor<4xf32>
    %11 = linalg.vecmat ins(%q_t, %5 : tensor<4xf32>, tensor<4x4xf32>) outs(%10 : tensor<4xf32>) -> tensor<4xf32>
    %12 = arith.mulf %8, %q_t : tensor<4xf32>
    %13 = tensor.empty() : tensor<f32>
    %cst_7 = arith.constant 0.000000e+00 : f32
    %14 = linalg.fill ins(%cst_7 : f32) outs(%13 : tensor<f32>) -> tensor<f32>
    %reduced = linalg.reduce ins(%12 : tensor<4xf32>) outs(%14 : tensor<f32>) dimensions = [0] 
      (%in: f32, %init: f32) {
        %19 = arith.addf %in, %init : f32
        linalg.yield %19 : f32
      }
    %15 = math.absf %reduced : tensor<f32>
    %cst_8 = arith.constant dense<1.000000e+00> : tensor<f32>
    %16 = arith.maximumf %15, %cst_8 : tensor<f32>
    %17 = tensor.empty() : tensor<4xf32>
    %broadcasted_9 = linalg.broadcast ins(%16 : tensor<f32>) outs(%17 : tensor<4xf32>) dimensions = [0] 
    %18 = arith.divf %11, %broadcasted_9 : tensor<4xf32>
    rec.yield %5, %8, %18 : tensor<4x4xf32>, tensor<4xf32>, tensor<4xf32>
  }
  rec.return %o, %S_final, %n_final : tensor<?x?x4xf32>, tensor<?x4x4xf32>, tensor<?x4xf32>
}

// -----

// Attention in query chunks of --chunk-size.
rec.model @attend(%B: index, %T: index, %q: tensor<?x?x4xf32>, %k: tensor<?x?x4xf32>, %v: tensor<?x?x4xf32>) -> tensor<?x?x4xf32> attributes {dims = {D = 4 : i64}, input_names = ["q", "k", "v"], output_names = ["o"], param_names = [], state_init = array<f64>, state_names = []} {
  %o = rec.recurrence batch %B length %T inputs(%q, %k, %v : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>) {
  ^bb0(%q_t: tensor<4xf32>, %k_t: tensor<4xf32>, %v_t: tensor<4xf32>):
// expected-remark@+1 {{state (attention history): chunk (causal softmax attention: online softmax over key chunks (FlashAttention tiling), in query chunks of 32 steps)}}
    %0 = rec.attention %q_t, %k_t, %v_t {scale = 5.000000e-01 : f64} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    rec.yield %0 : tensor<4xf32>
  }
  rec.return %o : tensor<?x?x4xf32>
}

// -----

// A vector state is not a matrix state.
// expected-error@+1 {{model 'decay' cannot take the chunked form: state 'h': it is not a matrix}}
rec.model @decay(%B: index, %T: index, %x: tensor<?x?x4xf32>, %a: tensor<4xf32>, %h_init: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>) attributes {dims = {H = 4 : i64}, input_names = ["x"], output_names = ["y"], param_names = ["a"], state_init = array<f64: 0.000000e+00>, state_names = ["h"]} {
  %h_final, %y = rec.recurrence batch %B length %T inits(%h_init : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x_t: tensor<4xf32>):
    %0 = arith.mulf %a, %h : tensor<4xf32>
    %1 = arith.addf %0, %x_t : tensor<4xf32>
    rec.yield %1, %1 : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %y, %h_final : tensor<?x?x4xf32>, tensor<?x4xf32>
}
