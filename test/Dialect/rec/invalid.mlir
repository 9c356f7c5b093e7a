// Verifier errors of the rec dialect, one per message.
// RUN: seq-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{'rec.model' op has 4 arguments but expects 2 sizes (B, T), 1 inputs, 0 params and 0 states}}
rec.model @m(%B: index, %T: index, %x: tensor<?x?x4xf32>, %y: tensor<4xf32>) -> (tensor<?x?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = [], output_names = ["o"],
                state_init = array<f64>} {
  rec.return %x : tensor<?x?x4xf32>
}

// -----

// expected-error @+1 {{'rec.model' op has 1 results but its kind and names call for 2}}
rec.model @m(%B: index, %T: index, %x: tensor<?x?x4xf32>, %h: tensor<?x4xf32>) -> (tensor<?x?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"], output_names = ["o"],
                state_init = array<f64: 0.0>} {
  rec.return %x : tensor<?x?x4xf32>
}

// -----

// expected-error @+1 {{'rec.model' op has 0 initial values for 1 states}}
rec.model @m(%B: index, %T: index, %x: tensor<?x?x4xf32>, %h: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"], output_names = ["o"],
                state_init = array<f64>} {
  rec.return %x, %h : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// expected-error @+1 {{'rec.model' op input 'x' must have dynamic batch and time axes and static other axes, got 'tensor<2x?x4xf32>'}}
rec.model @m(%B: index, %T: index, %x: tensor<2x?x4xf32>) -> (tensor<2x?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = [], output_names = ["o"],
                state_init = array<f64>} {
  rec.return %x : tensor<2x?x4xf32>
}

// -----

// expected-error @+1 {{'rec.model' op param 'W' must have a static shape and static other axes, got 'tensor<?x4xf32>'}}
rec.model @m(%B: index, %T: index, %x: tensor<?x?x4xf32>, %W: tensor<?x4xf32>) -> (tensor<?x?x4xf32>)
    attributes {input_names = ["x"], param_names = ["W"], state_names = [], output_names = ["o"],
                state_init = array<f64>} {
  rec.return %x : tensor<?x?x4xf32>
}

// -----

// expected-error @+1 {{'rec.model' op input 'x' must be a ranked f32 tensor, got 'tensor<?x?x4xf64>'}}
rec.model @m(%B: index, %T: index, %x: tensor<?x?x4xf64>) -> (tensor<?x?x4xf64>)
    attributes {input_names = ["x"], param_names = [], state_names = [], output_names = ["o"],
                state_init = array<f64>} {
  rec.return %x : tensor<?x?x4xf64>
}

// -----

// expected-error @+1 {{'rec.model' op final state 'h' has type 'tensor<?x3xf32>' but its initial state has type 'tensor<?x4xf32>'}}
rec.model @m(%B: index, %T: index, %h: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x3xf32>)
    attributes {input_names = [], param_names = [], state_names = ["h"], output_names = ["o"],
                state_init = array<f64: 0.0>} {
  %c = tensor.empty() : tensor<?x3xf32>
}

// -----

rec.model @m(%B: index, %T: index, %x: tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = [], output_names = ["o"],
                state_init = array<f64>} {
  %c = arith.constant 0 : index
  // expected-error @+1 {{'rec.return' op returns 0 values but the model has 1 results}}
  rec.return
}

// -----

rec.model @m(%B: index, %T: index, %x: tensor<?x?x4xf32>, %h: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"], output_names = ["o"],
                state_init = array<f64: 0.0>} {
  // expected-error @+1 {{'rec.return' op operand 0 has type 'tensor<?x4xf32>' but the model's result 0 has type 'tensor<?x?x4xf32>'}}
  rec.return %h, %h : tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

func.func @recurrence_step_arguments(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'rec.recurrence' op step argument 0 (state) has type 'tensor<3xf32>'; expected 'tensor<4xf32>'}}
  %r:2 = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<3xf32>, %x: tensor<4xf32>):
    rec.yield %x, %x : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

func.func @recurrence_input_argument(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'rec.recurrence' op step argument 1 (input) has type 'tensor<?x4xf32>'; expected 'tensor<4xf32>'}}
  %r:2 = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<?x4xf32>):
    rec.yield %h, %h : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

func.func @recurrence_argument_count(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'rec.recurrence' op step has 1 block arguments; expected 1 states and 1 inputs}}
  %r:2 = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>):
    rec.yield %h, %h : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

func.func @recurrence_yield_state(%B: index, %T: index, %h0: tensor<?x4xf32>) {
  %r:2 = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x2xf32>) {
  ^bb0(%h: tensor<4xf32>):
    %s = tensor.extract_slice %h[0] [2] [1] : tensor<4xf32> to tensor<2xf32>
    // expected-error @+1 {{'rec.yield' op yields 'tensor<2xf32>' for state 0 of type 'tensor<4xf32>'}}
    rec.yield %s, %s : tensor<2xf32>, tensor<2xf32>
  }
  return
}

// -----

func.func @recurrence_too_few_yields(%B: index, %T: index, %h0: tensor<?x4xf32>) {
  %r = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) -> (tensor<?x4xf32>) {
  ^bb0(%h: tensor<4xf32>):
    // expected-error @+1 {{'rec.yield' op yields 0 values but the recurrence has 1 states}}
    rec.yield
  }
  return
}

// -----

func.func @recurrence_result_count(%B: index, %T: index, %h0: tensor<?x4xf32>) {
  // expected-error @+1 {{'rec.recurrence' op has 1 results but its step yields 2 values}}
  %r = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) -> (tensor<?x4xf32>) {
  ^bb0(%h: tensor<4xf32>):
    rec.yield %h, %h : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

func.func @recurrence_final_state(%B: index, %T: index, %h0: tensor<?x4xf32>) {
  // expected-error @+1 {{'rec.recurrence' op final state 0 has type 'tensor<2x4xf32>' but its initial state has type 'tensor<?x4xf32>'}}
  %r:2 = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) -> (tensor<2x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>):
    rec.yield %h, %h : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

func.func @recurrence_output_sequence(%B: index, %T: index, %h0: tensor<?x4xf32>) {
  // expected-error @+1 {{'rec.recurrence' op output sequence 0 has type 'tensor<?x4xf32>'; the step yields 'tensor<4xf32>', so expected 'tensor<?x?x4xf32>'}}
  %r:2 = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  ^bb0(%h: tensor<4xf32>):
    rec.yield %h, %h : tensor<4xf32>, tensor<4xf32>
  }
  return
}

// -----

func.func @recurrence_init_type(%B: index, %T: index, %h0: tensor<4xf32>) {
  // expected-error @+1 {{'rec.recurrence' op initial state must have a dynamic batch axis and static other axes, got 'tensor<4xf32>'}}
  %r = rec.recurrence batch %B length %T inits(%h0 : tensor<4xf32>) -> (tensor<4xf32>) {
  ^bb0(%h: tensor<f32>):
    rec.yield %h : tensor<f32>
  }
  return
}

// -----

func.func @recurrence_input_rank(%B: index, %T: index, %xs: tensor<?xf32>) {
  // expected-error @+1 {{'rec.recurrence' op input sequence must have rank at least 2, got 'tensor<?xf32>'}}
  %r = rec.recurrence batch %B length %T inputs(%xs : tensor<?xf32>) -> (tensor<?x?xf32>) {
  ^bb0(%x: tensor<f32>):
    rec.yield %x : tensor<f32>
  }
  return
}

// -----

func.func @recurrence_input_type(%B: index, %T: index, %xs: tensor<?x4xf32>) {
  // expected-error @+1 {{'rec.recurrence' op input sequence must have dynamic batch and time axes and static other axes, got 'tensor<?x4xf32>'}}
  %r = rec.recurrence batch %B length %T inputs(%xs : tensor<?x4xf32>) -> (tensor<?x?xf32>) {
  ^bb0(%x: tensor<4xf32>):
    %c = arith.constant dense<0.0> : tensor<f32>
    rec.yield %c : tensor<f32>
  }
  return
}

// -----

func.func @yield_outside(%B: index, %T: index, %x: tensor<4xf32>) {
  // expected-error @+1 {{'rec.yield' op expects parent op to be one of 'rec.recurrence, rec.newton'}}
  rec.yield %x : tensor<4xf32>
}

// -----

func.func @attention_outside(%B: index, %T: index, %q: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'rec.attention' op expects parent op 'rec.recurrence'}}
  %o = rec.attention %q, %q, %q {scale = 0.5 : f64} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
  return %o : tensor<4xf32>
}

// -----

func.func @attention_qk(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %ks: tensor<?x?x3xf32>) {
  %r = rec.recurrence batch %B length %T inputs(%xs, %ks : tensor<?x?x4xf32>, tensor<?x?x3xf32>) -> (tensor<?x?x4xf32>) {
  ^bb0(%x: tensor<4xf32>, %k: tensor<3xf32>):
    // expected-error @+1 {{'rec.attention' op needs q and k of the same type, got 'tensor<4xf32>' and 'tensor<3xf32>'}}
    %o = rec.attention %x, %k, %x {scale = 0.5 : f64} : tensor<4xf32>, tensor<3xf32>, tensor<4xf32> -> tensor<4xf32>
    rec.yield %o : tensor<4xf32>
  }
  return
}

// -----

func.func @attention_heads(%B: index, %T: index, %qs: tensor<?x?x2x4xf32>, %vs: tensor<?x?x3x4xf32>) {
  %r = rec.recurrence batch %B length %T inputs(%qs, %vs : tensor<?x?x2x4xf32>, tensor<?x?x3x4xf32>) -> (tensor<?x?x2x4xf32>) {
  ^bb0(%q: tensor<2x4xf32>, %v: tensor<3x4xf32>):
    // expected-error @+1 {{'rec.attention' op needs v with the same leading axes as q, got 'tensor<2x4xf32>' and 'tensor<3x4xf32>'}}
    %o = rec.attention %q, %q, %v {scale = 0.5 : f64} : tensor<2x4xf32>, tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x4xf32>
    rec.yield %o : tensor<2x4xf32>
  }
  return
}

// -----

func.func @attention_result(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %vs: tensor<?x?x2xf32>) {
  %r = rec.recurrence batch %B length %T inputs(%xs, %vs : tensor<?x?x4xf32>, tensor<?x?x2xf32>) -> (tensor<?x?x4xf32>) {
  ^bb0(%x: tensor<4xf32>, %v: tensor<2xf32>):
    // expected-error @+1 {{'rec.attention' op result type 'tensor<4xf32>' does not match v 'tensor<2xf32>'}}
    %o = rec.attention %x, %x, %v {scale = 0.5 : f64} : tensor<4xf32>, tensor<4xf32>, tensor<2xf32> -> tensor<4xf32>
    rec.yield %o : tensor<4xf32>
  }
  return
}

// -----

func.func @attention_window(%B: index, %T: index, %xs: tensor<?x?x4xf32>) {
  %r = rec.recurrence batch %B length %T inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>) {
  ^bb0(%x: tensor<4xf32>):
    // expected-error @+1 {{'rec.attention' op needs window >= 0 (0 = unbounded), got -1}}
    %o = rec.attention %x, %x, %x {scale = 0.5 : f64, window = -1 : i64} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    rec.yield %o : tensor<4xf32>
  }
  return
}

// -----

func.func @attention_scale(%B: index, %T: index, %xs: tensor<?x?x4xf32>) {
  %r = rec.recurrence batch %B length %T inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>) {
  ^bb0(%x: tensor<4xf32>):
    // expected-error @+1 {{'rec.attention' op needs a finite scale}}
    %o = rec.attention %x, %x, %x {scale = 0x7FF0000000000000 : f64} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    rec.yield %o : tensor<4xf32>
  }
  return
}

// -----

// expected-error @+1 {{'rec.model' op needs the batch size and the length (index) as its first two arguments}}
rec.model @m(%B: i64, %T: index, %x: tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = [], output_names = ["o"],
                state_init = array<f64>} {
  rec.return %x : tensor<?x?x4xf32>
}

// -----

func.func @scan_rank(%a: tensor<?xf32>, %h0: tensor<?xf32>) {
  // expected-error @+1 {{'rec.scan' op needs coefficient sequences of rank at least 2 (batch, time), got 'tensor<?xf32>'}}
  %s, %f = rec.scan %a, %a, init %h0 : tensor<?xf32>, tensor<?xf32>
  return
}

// -----

func.func @scan_f64(%a: tensor<?x?xf64>, %h0: tensor<?xf64>) {
  // expected-error @+1 {{'rec.scan' op needs f32 sequences, got 'tensor<?x?xf64>'}}
  %s, %f = rec.scan %a, %a, init %h0 : tensor<?x?xf64>, tensor<?xf64>
  return
}

// -----

func.func @scan_init(%a: tensor<?x?x4xf32>, %h0: tensor<?x8xf32>) {
  // expected-error @+1 {{'rec.scan' op initial state has type 'tensor<?x8xf32>'; the sequences 'tensor<?x?x4xf32>' need 'tensor<?x4xf32>'}}
  %s, %f = rec.scan %a, %a, init %h0 : tensor<?x?x4xf32>, tensor<?x8xf32>
  return
}

// -----

func.func @linear_scan_mixed(%a: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>, %s: memref<?x?x4xf32>,
                             %f: memref<?x4xf32>) {
  // expected-error @+1 {{'rec.linear_scan' op needs all operands ranked tensors or all memrefs, got 'memref<?x?x4xf32>'}}
  rec.linear_scan ins(%a, %a, %h0 : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x4xf32>)
                  outs(%s, %f : memref<?x?x4xf32>, memref<?x4xf32>)
  return
}

// -----

func.func @linear_scan_states(%a: memref<?x?x4xf32>, %h0: memref<?x4xf32>, %s: memref<?x?x8xf32>,
                              %f: memref<?x4xf32>) {
  // expected-error @+1 {{'rec.linear_scan' op needs offsets and states shaped as the coefficients 'memref<?x?x4xf32>', got 'memref<?x?x8xf32>'}}
  rec.linear_scan ins(%a, %a, %h0 : memref<?x?x4xf32>, memref<?x?x4xf32>, memref<?x4xf32>)
                  outs(%s, %f : memref<?x?x8xf32>, memref<?x4xf32>)
  return
}

// -----

func.func @linear_scan_final(%a: memref<?x?x4xf32>, %h0: memref<?x4xf32>, %f: memref<?x?x4xf32>) {
  // expected-error @+1 {{'rec.linear_scan' op needs init and final state shaped as the sequences without their time axis, got 'memref<?x?x4xf32>' for 'memref<?x?x4xf32>'}}
  rec.linear_scan ins(%a, %a, %h0 : memref<?x?x4xf32>, memref<?x?x4xf32>, memref<?x4xf32>)
                  outs(%a, %f : memref<?x?x4xf32>, memref<?x?x4xf32>)
  return
}

// -----

func.func @linear_scan_results(%a: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>) {
  // expected-error @+1 {{'rec.linear_scan' op on tensors returns its two destinations' types}}
  %s = rec.linear_scan ins(%a, %a, %h0 : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x4xf32>)
                       outs(%a, %h0 : tensor<?x?x4xf32>, tensor<?x4xf32>) -> tensor<?x?x4xf32>
  return
}

// -----

func.func @linear_scan_f64(%a: memref<?x?xf64>, %h0: memref<?xf64>) {
  // expected-error @+1 {{'rec.linear_scan' op needs f32 operands, got 'memref<?x?xf64>'}}
  rec.linear_scan ins(%a, %a, %h0 : memref<?x?xf64>, memref<?x?xf64>, memref<?xf64>)
                  outs(%a, %h0 : memref<?x?xf64>, memref<?xf64>)
  return
}

// -----

func.func @newton_no_state(%B: index, %T: index, %xs: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'rec.newton' op needs at least one state}}
  %ys = rec.newton batch %B length %T inputs(%xs : tensor<?x?x4xf32>) jacobian diagonal -> (tensor<?x?x4xf32>) {
  ^bb0(%x: tensor<4xf32>):
    rec.yield %x : tensor<4xf32>
  } {max_iters = 8 : i64, tol = 1.0e-05 : f64}
  return
}

// -----

func.func @newton_missing_jacobian(%B: index, %T: index, %h0: tensor<?x4xf32>) {
  // expected-error @+1 {{'rec.newton' op has 1 results but its step yields 1 values (expected 2: the states, the outputs and 1 Jacobian parts)}}
  %hT = rec.newton batch %B length %T inits(%h0 : tensor<?x4xf32>) jacobian diagonal -> (tensor<?x4xf32>) {
  ^bb0(%h: tensor<4xf32>):
    rec.yield %h : tensor<4xf32>
  } {max_iters = 8 : i64, tol = 1.0e-05 : f64}
  return
}

// -----

func.func @newton_diagonal_type(%B: index, %T: index, %h0: tensor<?x4xf32>, %j: tensor<4x4xf32>) {
  // expected-error @+1 {{'rec.newton' op yields 'tensor<4x4xf32>' as the Jacobian of state 0; a diagonal Jacobian has the state's type 'tensor<4xf32>'}}
  %hT = rec.newton batch %B length %T inits(%h0 : tensor<?x4xf32>) jacobian diagonal -> (tensor<?x4xf32>) {
  ^bb0(%h: tensor<4xf32>):
    rec.yield %h, %j : tensor<4xf32>, tensor<4x4xf32>
  } {max_iters = 8 : i64, tol = 1.0e-05 : f64}
  return
}

// -----

func.func @newton_block_types(%B: index, %T: index, %a0: tensor<?x4xf32>, %b0: tensor<?x2xf32>) {
  // expected-error @+1 {{'rec.newton' op has a block-diagonal Jacobian, which needs states of one type, but state 1 has type 'tensor<2xf32>' and state 0 'tensor<4xf32>'}}
  %r:2 = rec.newton batch %B length %T inits(%a0, %b0 : tensor<?x4xf32>, tensor<?x2xf32>) jacobian block_diagonal -> (tensor<?x4xf32>, tensor<?x2xf32>) {
  ^bb0(%a: tensor<4xf32>, %b: tensor<2xf32>):
    rec.yield %a, %b, %a, %a, %a, %a : tensor<4xf32>, tensor<2xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  } {max_iters = 8 : i64, tol = 1.0e-05 : f64}
  return
}

// -----

func.func @newton_dense_size(%B: index, %T: index, %h0: tensor<?x4xf32>, %j: tensor<3x3xf32>) {
  // expected-error @+1 {{'rec.newton' op yields 'tensor<3x3xf32>' as the dense Jacobian; the states have 4 elements in all, so expected 'tensor<4x4xf32>'}}
  %hT = rec.newton batch %B length %T inits(%h0 : tensor<?x4xf32>) jacobian dense -> (tensor<?x4xf32>) {
  ^bb0(%h: tensor<4xf32>):
    rec.yield %h, %j : tensor<4xf32>, tensor<3x3xf32>
  } {max_iters = 8 : i64, tol = 1.0e-05 : f64}
  return
}

// -----

func.func @newton_tolerance(%B: index, %T: index, %h0: tensor<?x4xf32>) {
  // expected-error @+1 {{'rec.newton' op needs a tolerance of 0 or more, got -1}}
  %hT = rec.newton batch %B length %T inits(%h0 : tensor<?x4xf32>) jacobian diagonal -> (tensor<?x4xf32>) {
  ^bb0(%h: tensor<4xf32>):
    rec.yield %h, %h : tensor<4xf32>, tensor<4xf32>
  } {max_iters = 8 : i64, tol = -1.0 : f64}
  return
}

// -----

func.func @newton_iterations(%B: index, %T: index, %h0: tensor<?x4xf32>) {
  %hT = rec.newton batch %B length %T inits(%h0 : tensor<?x4xf32>) jacobian diagonal -> (tensor<?x4xf32>) {
  ^bb0(%h: tensor<4xf32>):
    rec.yield %h, %h : tensor<4xf32>, tensor<4xf32>
  // expected-error @+1 {{'rec.newton' op attribute 'max_iters' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  } {max_iters = 0 : i64, tol = 1.0e-05 : f64}
  return
}

// -----

func.func @chunked_rank(%q: tensor<?x?x8xf32>, %v: tensor<?x?x4xf32>, %s0: tensor<?x8x4xf32>) {
  // expected-error @+1 {{'rec.chunked' op needs rank-4 operands ([B, T, H, K], [B, T, H, V], [B, H, K, V]), got 'tensor<?x?x8xf32>'}}
  %r, %sT = rec.chunked %q, %q, %v, log_decays %q, init %s0 {chunk_size = 16 : i64}
      : tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x8x4xf32>
  return
}

// -----

func.func @chunked_key_size(%q: tensor<?x?x2x8xf32>, %v: tensor<?x?x2x4xf32>, %s0: tensor<?x2x6x4xf32>) {
  // expected-error @+1 {{'rec.chunked' op needs operands whose key sizes agree, got 'tensor<?x?x2x8xf32>', 'tensor<?x?x2x4xf32>' and init 'tensor<?x2x6x4xf32>'}}
  %r, %sT = rec.chunked %q, %q, %v, log_decays %q, init %s0 {chunk_size = 16 : i64}
      : tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>, tensor<?x2x6x4xf32>
  return
}

// -----

func.func @chunked_dynamic_heads(%q: tensor<?x?x?x8xf32>, %v: tensor<?x?x?x4xf32>, %s0: tensor<?x?x8x4xf32>) {
  // expected-error @+1 {{'rec.chunked' op needs static heads, key and value sizes}}
  %r, %sT = rec.chunked %q, %q, %v, log_decays %q, init %s0 {chunk_size = 16 : i64}
      : tensor<?x?x?x8xf32>, tensor<?x?x?x4xf32>, tensor<?x?x8x4xf32>
  return
}

// -----

func.func @chunked_size(%q: tensor<?x?x2x8xf32>, %v: tensor<?x?x2x4xf32>, %s0: tensor<?x2x8x4xf32>) {
  // expected-error @+1 {{'rec.chunked' op attribute 'chunk_size' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %r, %sT = rec.chunked %q, %q, %v, log_decays %q, init %s0 {chunk_size = 0 : i64}
      : tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>
  return
}

// -----

func.func @chunked_attention_rank(%q: tensor<?x?x8xf32>, %v: tensor<?x?x4xf32>) {
  // expected-error @+1 {{'rec.chunked_attention' op needs rank-4 keys and values ([B, T, H, K], [B, T, H, V]), got 'tensor<?x?x8xf32>' and 'tensor<?x?x4xf32>'}}
  %o = rec.chunked_attention %q, %q, %v {scale = 1.0 : f64, chunk_size = 16 : i64}
      : tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x?x4xf32>
  return
}

// -----

func.func @chunked_attention_query(%q: tensor<?x?x2x4xf32>, %k: tensor<?x?x2x8xf32>, %v: tensor<?x?x2x4xf32>) {
  // expected-error @+1 {{'rec.chunked_attention' op needs queries typed as the keys or one fixed query [H, K], got 'tensor<?x?x2x4xf32>' and 'tensor<?x?x2x8xf32>'}}
  %o = rec.chunked_attention %q, %k, %v {scale = 1.0 : f64, chunk_size = 16 : i64}
      : tensor<?x?x2x4xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>
  return
}

// -----

func.func @chunked_attention_fixed_query(%q: tensor<3x8xf32>, %k: tensor<?x?x2x8xf32>, %v: tensor<?x?x2x4xf32>) {
  // expected-error @+1 {{'rec.chunked_attention' op needs a fixed query [H, K] matching the keys, got 'tensor<3x8xf32>' and 'tensor<?x?x2x8xf32>'}}
  %o = rec.chunked_attention %q, %k, %v {scale = 1.0 : f64, chunk_size = 16 : i64}
      : tensor<3x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>
  return
}

// -----

func.func @chunked_attention_heads(%k: tensor<?x?x2x8xf32>, %v: tensor<?x?x3x4xf32>) {
  // expected-error @+1 {{'rec.chunked_attention' op needs keys and values whose batch, length and heads agree, got 'tensor<?x?x2x8xf32>' and 'tensor<?x?x3x4xf32>'}}
  %o = rec.chunked_attention %k, %k, %v {scale = 1.0 : f64, chunk_size = 16 : i64}
      : tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x3x4xf32>
  return
}

// -----

func.func @chunked_attention_dynamic(%k: tensor<?x?x?x8xf32>, %v: tensor<?x?x?x4xf32>) {
  // expected-error @+1 {{'rec.chunked_attention' op needs static heads, key and value sizes}}
  %o = rec.chunked_attention %k, %k, %v {scale = 1.0 : f64, chunk_size = 16 : i64}
      : tensor<?x?x?x8xf32>, tensor<?x?x?x8xf32>, tensor<?x?x?x4xf32>
  return
}

// -----

func.func @chunked_attention_window(%k: tensor<?x?x2x8xf32>, %v: tensor<?x?x2x4xf32>) {
  // expected-error @+1 {{'rec.chunked_attention' op needs window >= 0 (0 = unbounded), got -3}}
  %o = rec.chunked_attention %k, %k, %v {scale = 1.0 : f64, window = -3 : i64, chunk_size = 16 : i64}
      : tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>
  return
}

// -----

func.func @chunked_attention_scale(%k: tensor<?x?x2x8xf32>, %v: tensor<?x?x2x4xf32>) {
  // expected-error @+1 {{'rec.chunked_attention' op needs a finite scale}}
  %o = rec.chunked_attention %k, %k, %v {scale = 0x7FF0000000000000 : f64, chunk_size = 16 : i64}
      : tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>
  return
}

// -----

func.func @chunked_delta_value_size(%q: tensor<?x?x2x8xf32>, %v: tensor<?x?x2x4xf32>, %s0: tensor<?x2x8x5xf32>) {
  // expected-error @+1 {{'rec.chunked_delta' op needs operands whose value sizes agree, got 'tensor<?x?x2x8xf32>', 'tensor<?x?x2x4xf32>' and init 'tensor<?x2x8x5xf32>'}}
  %r, %sT = rec.chunked_delta %q, %q, %q, %v, log_decays %q, init %s0 {chunk_size = 16 : i64}
      : tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>, tensor<?x2x8x5xf32>
  return
}

// -----

func.func @chunked_delta_rank(%q: tensor<?x?x8xf32>, %v: tensor<?x?x4xf32>, %s0: tensor<?x8x4xf32>) {
  // expected-error @+1 {{'rec.chunked_delta' op needs rank-4 operands ([B, T, H, K], [B, T, H, V], [B, H, K, V]), got 'tensor<?x?x8xf32>'}}
  %r, %sT = rec.chunked_delta %q, %q, %q, %v, log_decays %q, init %s0 {chunk_size = 16 : i64}
      : tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x8x4xf32>
  return
}
