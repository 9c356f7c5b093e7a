// RUN: seq-opt %s --rec-to-chunked="chunk-size=16" --canonicalize --cse --split-input-file | FileCheck %s

// Per-step queries, two head axes and a window: the query, key and value
// of every step come out of the step with their heads flattened ([2, 3, 4]
// -> [6, 4]); rec.chunked_attention keeps the scale and the window; what is
// left of the recurrence takes each step's output as an input and restores
// its heads before the rest of the step (tanh).
// CHECK-LABEL: rec.model @heads
//  CHECK-SAME: (%[[B:[^:]*]]: index, %[[T:[^:]*]]: index, %[[Q:[^:]*]]: tensor<?x?x2x3x4xf32>, %[[K:[^:]*]]: tensor<?x?x2x3x4xf32>, %[[V:[^:]*]]: tensor<?x?x2x3x5xf32>)
//       CHECK: %[[PARTS:.*]]:3 = rec.recurrence batch %[[B]] length %[[T]] inputs(%[[Q]], %[[K]], %[[V]] :
//  CHECK-SAME:   -> (tensor<?x?x6x4xf32>, tensor<?x?x6x5xf32>, tensor<?x?x6x4xf32>)
//       CHECK:   %[[KF:.*]] = tensor.collapse_shape %[[KT:[^ ]*]] {{\[}}[0, 1], [2]] : tensor<2x3x4xf32> into tensor<6x4xf32>
//       CHECK:   %[[VF:.*]] = tensor.collapse_shape %[[VT:[^ ]*]] {{\[}}[0, 1], [2]] : tensor<2x3x5xf32> into tensor<6x5xf32>
//       CHECK:   %[[QF:.*]] = tensor.collapse_shape %[[QT:[^ ]*]] {{\[}}[0, 1], [2]] : tensor<2x3x4xf32> into tensor<6x4xf32>
//       CHECK:   rec.yield %[[KF]], %[[VF]], %[[QF]]
//       CHECK: %[[OUT:.*]] = rec.chunked_attention %[[PARTS]]#2, %[[PARTS]]#0, %[[PARTS]]#1 {chunk_size = 16 : i64, scale = 5.000000e-01 : f64, window = 3 : i64}
//       CHECK: %[[REST:.*]] = rec.recurrence batch %[[B]] length %[[T]] inputs(%[[OUT]] : tensor<?x?x6x5xf32>) -> (tensor<?x?x2x3x5xf32>)
//       CHECK:   ^bb0(%[[O:[^:]*]]: tensor<6x5xf32>):
//       CHECK:   %[[HEADS:.*]] = tensor.expand_shape %[[O]] {{\[}}[0, 1], [2]] output_shape [2, 3, 5]
//       CHECK:   %[[TANH:.*]] = math.tanh %[[HEADS]]
//       CHECK:   rec.yield %[[TANH]]
//   CHECK-NOT: rec.attention
//       CHECK: rec.return %[[REST]]
  rec.model @heads(%B: index, %T: index, %q: tensor<?x?x2x3x4xf32>, %k: tensor<?x?x2x3x4xf32>, %v: tensor<?x?x2x3x5xf32>) -> tensor<?x?x2x3x5xf32> attributes {dims = {D = 4 : i64, DK = 4 : i64, DV = 5 : i64, G = 2 : i64, NH = 3 : i64}, input_names = ["q", "k", "v"], output_names = ["o"], param_names = [], state_init = array<f64>, state_names = []} {
    %o = rec.recurrence batch %B length %T inputs(%q, %k, %v : tensor<?x?x2x3x4xf32>, tensor<?x?x2x3x4xf32>, tensor<?x?x2x3x5xf32>) -> (tensor<?x?x2x3x5xf32>) {
    ^bb0(%q_t: tensor<2x3x4xf32>, %k_t: tensor<2x3x4xf32>, %v_t: tensor<2x3x5xf32>):
      %0 = rec.attention %q_t, %k_t, %v_t {scale = 5.000000e-01 : f64, window = 3 : i64} : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x5xf32> -> tensor<2x3x5xf32>
      %1 = math.tanh %0 : tensor<2x3x5xf32>
      rec.yield %1 : tensor<2x3x5xf32>
    }
    rec.return %o : tensor<?x?x2x3x5xf32>
  }

// -----

// A learned query (a param, the same at every step): only the keys and
// values are computed for every step; the query joins the op as one [H, K]
// tensor (here H = 1: no head axis).
// CHECK-LABEL: rec.model @learned
//  CHECK-SAME: %[[Q:[^:]*]]: tensor<4xf32>)
//       CHECK: %[[PARTS:.*]]:2 = rec.recurrence
//  CHECK-SAME:   -> (tensor<?x?x1x4xf32>, tensor<?x?x1x3xf32>)
//       CHECK: %[[QH:.*]] = tensor.expand_shape %[[Q]] {{\[}}[0, 1]] output_shape [1, 4] : tensor<4xf32> into tensor<1x4xf32>
//       CHECK: %[[OUT:.*]] = rec.chunked_attention %[[QH]], %[[PARTS]]#0, %[[PARTS]]#1 {chunk_size = 16 : i64, scale = 5.000000e-01 : f64} : tensor<1x4xf32>, tensor<?x?x1x4xf32>, tensor<?x?x1x3xf32>
//       CHECK: rec.recurrence {{.*}} inputs(%[[OUT]] : tensor<?x?x1x3xf32>)
//   CHECK-NOT: rec.attention
  rec.model @learned(%B: index, %T: index, %k: tensor<?x?x4xf32>, %v: tensor<?x?x3xf32>, %q: tensor<4xf32>) -> tensor<?x?x3xf32> attributes {dims = {DK = 4 : i64, DV = 3 : i64}, input_names = ["k", "v"], output_names = ["o"], param_names = ["q"], state_init = array<f64>, state_names = []} {
    %o = rec.recurrence batch %B length %T inputs(%k, %v : tensor<?x?x4xf32>, tensor<?x?x3xf32>) -> (tensor<?x?x3xf32>) {
    ^bb0(%k_t: tensor<4xf32>, %v_t: tensor<3xf32>):
      %0 = rec.attention %q, %k_t, %v_t {scale = 5.000000e-01 : f64} : tensor<4xf32>, tensor<4xf32>, tensor<3xf32> -> tensor<3xf32>
      rec.yield %0 : tensor<3xf32>
    }
    rec.return %o : tensor<?x?x3xf32>
  }

// -----

// A key that reads a state is not known before the recurrence runs: the
// attention stays where it is.
// CHECK-LABEL: rec.model @state_key
//   CHECK-NOT: rec.chunked_attention
//       CHECK: rec.recurrence
//       CHECK:   rec.attention
  rec.model @state_key(%B: index, %T: index, %q: tensor<?x?x4xf32>, %v: tensor<?x?x4xf32>, %h_init: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>) attributes {dims = {DK = 4 : i64}, input_names = ["q", "v"], output_names = ["o"], param_names = [], state_init = array<f64: 0.000000e+00>, state_names = ["h"]} {
    %h_final, %o = rec.recurrence batch %B length %T inits(%h_init : tensor<?x4xf32>) inputs(%q, %v : tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
    ^bb0(%h: tensor<4xf32>, %q_t: tensor<4xf32>, %v_t: tensor<4xf32>):
      %cst = arith.constant dense<5.000000e-01> : tensor<4xf32>
      %0 = arith.mulf %cst, %h : tensor<4xf32>
      %1 = arith.addf %0, %v_t : tensor<4xf32>
      %2 = rec.attention %q_t, %1, %v_t {scale = 5.000000e-01 : f64} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
      rec.yield %1, %2 : tensor<4xf32>, tensor<4xf32>
    }
    rec.return %o, %h_final : tensor<?x?x4xf32>, tensor<?x4xf32>
  }
