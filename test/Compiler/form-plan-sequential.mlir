// RUN: seq-opt %s -split-input-file -test-form-plan="form=sequential" -verify-diagnostics -o /dev/null

// --form sequential: every state, attention included, step by step.
// A scannable state.
rec.model @decay(%B: index, %T: index, %x: tensor<?x?x4xf32>, %a: tensor<4xf32>, %h_init: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>) attributes {dims = {H = 4 : i64}, input_names = ["x"], output_names = ["y"], param_names = ["a"], state_init = array<f64: 0.000000e+00>, state_names = ["h"]} {
// expected-remark@+1 {{state h: sequential (--form sequential)}}
  %h_final, %y = rec.recurrence batch %B length %T inits(%h_init : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x_t: tensor<4xf32>):
    %0 = arith.mulf %a, %h : tensor<4xf32>
    %1 = arith.addf %0, %x_t : tensor<4xf32>
    rec.yield %1, %1 : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %y, %h_final : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// Attention that --form chunk and auto would chunk.
rec.model @attend(%B: index, %T: index, %q: tensor<?x?x4xf32>, %k: tensor<?x?x4xf32>, %v: tensor<?x?x4xf32>) -> tensor<?x?x4xf32> attributes {dims = {D = 4 : i64}, input_names = ["q", "k", "v"], output_names = ["o"], param_names = [], state_init = array<f64>, state_names = []} {
  %o = rec.recurrence batch %B length %T inputs(%q, %k, %v : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> (tensor<?x?x4xf32>) {
  ^bb0(%q_t: tensor<4xf32>, %k_t: tensor<4xf32>, %v_t: tensor<4xf32>):
// expected-remark@+1 {{state (attention history): sequential (--form sequential runs attention step by step (--form chunk and auto chunk it))}}
    %0 = rec.attention %q_t, %k_t, %v_t {scale = 5.000000e-01 : f64} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    rec.yield %0 : tensor<4xf32>
  }
  rec.return %o : tensor<?x?x4xf32>
}
