// RUN: seq-opt %s -split-input-file -pass-pipeline='builtin.module(rec.model(rec-to-newton,canonicalize))' | FileCheck %s
// RUN: seq-opt %s -split-input-file -pass-pipeline='builtin.module(rec.model(rec-to-newton{quasi max-iters=4 tol=1e-3 guess=zero min-length=64},canonicalize))' | FileCheck %s --check-prefix=QUASI
// RUN: seq-opt %s -split-input-file -pass-pipeline='builtin.module(rec.model(rec-to-newton{structured-only}))' | FileCheck %s --check-prefix=STRUCTURED
// RUN: seq-opt %s -split-input-file -pass-pipeline='builtin.module(rec.model(rec-to-newton{max-dense=2}))' | FileCheck %s --check-prefix=SMALL-DENSE
// RUN: seq-opt %s -split-input-file -pass-pipeline='builtin.module(rec.model(rec-to-newton{skip-scannable}))' | FileCheck %s --check-prefix=SKIP-SCANNABLE

// An LSTM-like pair (c' = tanh(h + x) c, h' = tanh(c')): 2x2 blocks, yielded
// row-major after the states and the output: dc'/dc = f, dc'/dh = (1 - f^2) c,
// dh'/dc = (1 - h'^2) f, dh'/dh = (1 - h'^2) dc'/dh.
// CHECK-LABEL: rec.model @lstm
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00>
// CHECK: rec.newton {{.*}} jacobian block_diagonal
// CHECK-NEXT: ^bb0(%[[C:[^:]*]]: tensor<4xf32>, %[[H:[^:]*]]: tensor<4xf32>
// CHECK-NEXT: %[[G:.*]] = arith.addf %[[H]]
// CHECK-NEXT: %[[F:.*]] = math.tanh %[[G]]
// CHECK-NEXT: %[[CN:.*]] = arith.mulf %[[F]], %[[C]]
// CHECK-NEXT: %[[HN:.*]] = math.tanh %[[CN]]
// CHECK-NEXT: %[[HN2:.*]] = arith.mulf %[[HN]], %[[HN]]
// CHECK-NEXT: %[[SLOPE:.*]] = arith.subf %[[ONE]], %[[HN2]]
// CHECK-NEXT: %[[HC:.*]] = arith.mulf %[[SLOPE]], %[[F]]
// CHECK-NEXT: %[[F2:.*]] = arith.mulf %[[F]], %[[F]]
// CHECK-NEXT: %[[FSLOPE:.*]] = arith.subf %[[ONE]], %[[F2]]
// CHECK-NEXT: %[[CH:.*]] = arith.mulf %[[FSLOPE]], %[[C]]
// CHECK-NEXT: %[[HN2B:.*]] = arith.mulf %[[HN]], %[[HN]]
// CHECK-NEXT: %[[SLOPEB:.*]] = arith.subf %[[ONE]], %[[HN2B]]
// CHECK-NEXT: %[[HH:.*]] = arith.mulf %[[SLOPEB]], %[[CH]]
// CHECK-NEXT: rec.yield %[[CN]], %[[HN]], %[[HN]], %[[F]], %[[CH]], %[[HC]], %[[HH]] :
// CHECK: max_iters = 10 : i64, tol = 1.000000e-05 : f64
// With quasi, only the blocks' diagonals: a diagonal Jacobian marked quasi,
// and the options on the op.
// QUASI-LABEL: rec.model @lstm
// QUASI: rec.newton {{.*}} jacobian diagonal quasi guess zero ->
// QUASI: rec.yield %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
// QUASI: {max_iters = 4 : i64, min_length = 64 : i64, tol = 1.000000e-03 : f64}
// STRUCTURED-LABEL: rec.model @lstm
// STRUCTURED: rec.newton
// SKIP-SCANNABLE-LABEL: rec.model @lstm
// SKIP-SCANNABLE: rec.newton
rec.model @lstm(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %c0: tensor<?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["c", "h"],
                output_names = ["y"], state_init = array<f64: 0.0, 0.0>} {
  %r:3 = rec.recurrence batch %B length %T inits(%c0, %h0 : tensor<?x4xf32>, tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%c: tensor<4xf32>, %h: tensor<4xf32>, %x: tensor<4xf32>):
    %g = arith.addf %h, %x : tensor<4xf32>
    %f = math.tanh %g : tensor<4xf32>
    %cn = arith.mulf %f, %c : tensor<4xf32>
    %hn = math.tanh %cn : tensor<4xf32>
    rec.yield %cn, %hn, %hn : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  }
  rec.return %r#2, %r#0, %r#1 : tensor<?x?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// The linear ops that mix elements: a matvec by a param, a sum broadcast
// back, a slice concatenated after an input: a dense Jacobian, column by
// column in a loop over the unit directions, each op's derivative the op
// applied to the direction (state-free parts become zeros).
// CHECK-LABEL: rec.model @mixing
// CHECK-SAME: %[[W:[^:]*]]: tensor<3x3xf32>
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[ZEROS1:.*]] = arith.constant dense<0.000000e+00> : tensor<1xf32>
// CHECK-DAG: %[[ZEROM:.*]] = arith.constant dense<0.000000e+00> : tensor<3x3xf32>
// CHECK-DAG: %[[ZEROV:.*]] = arith.constant dense<0.000000e+00> : tensor<3xf32>
// CHECK-DAG: %[[C3:.*]] = arith.constant 3 : index
// CHECK: rec.newton {{.*}} jacobian dense
// CHECK: %[[N:.*]] = math.tanh
// CHECK-NEXT: %[[J:.*]] = scf.for %[[COL:.*]] = %{{.*}} to %[[C3]] step %{{.*}} iter_args(%[[ACC:.*]] = %[[ZEROM]]) -> (tensor<3x3xf32>) {
// CHECK-NEXT: %[[UNIT:.*]] = tensor.insert %[[ONE]] into %[[ZEROV]][%[[COL]]]
// CHECK-NEXT: %[[DWH:.*]] = linalg.matvec ins(%[[W]], %[[UNIT]] : {{.*}}) outs(%[[ZEROV]]
// CHECK-NEXT: %[[DSUM:.*]] = linalg.reduce ins(%[[UNIT]]
// CHECK: %[[DSB:.*]] = linalg.broadcast ins(%[[DSUM]]
// CHECK-NEXT: %[[DHEAD:.*]] = tensor.extract_slice %[[UNIT]][0] [2] [1]
// CHECK-NEXT: %[[DCAT:.*]] = tensor.concat dim(0) %[[ZEROS1]], %[[DHEAD]]
// CHECK-NEXT: %[[D1:.*]] = arith.addf %[[DWH]], %[[DSB]]
// CHECK-NEXT: %[[D2:.*]] = arith.addf %[[D1]], %[[DCAT]]
// CHECK-NEXT: %[[SQ:.*]] = arith.mulf %[[N]], %[[N]]
// CHECK-NEXT: %[[SLOPE:.*]] = arith.subf %{{.*}}, %[[SQ]]
// CHECK-NEXT: %[[COLUMN:.*]] = arith.mulf %[[SLOPE]], %[[D2]]
// CHECK-NEXT: %[[NEXT:.*]] = tensor.insert_slice %[[COLUMN]] into %[[ACC]][0, %[[COL]]] [3, 1] [1, 1]
// CHECK-NEXT: scf.yield %[[NEXT]]
// CHECK: rec.yield %[[N]], %[[N]], %[[J]] : tensor<3xf32>, tensor<3xf32>, tensor<3x3xf32>
// With quasi, the loop keeps only the diagonal.
// QUASI-LABEL: rec.model @mixing
// QUASI: scf.for {{.*}} -> (tensor<3xf32>)
// QUASI: tensor.extract
// QUASI: tensor.insert
// QUASI: rec.yield {{.*}} : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
// Dense Jacobians are left alone with structured-only, and above max-dense.
// STRUCTURED-LABEL: rec.model @mixing
// STRUCTURED-NOT: rec.newton
// STRUCTURED: rec.recurrence
// SMALL-DENSE-LABEL: rec.model @mixing
// SMALL-DENSE-NOT: rec.newton
// SMALL-DENSE: rec.recurrence
rec.model @mixing(%B: index, %T: index, %xs: tensor<?x?x3xf32>, %w: tensor<3x3xf32>, %h0: tensor<?x3xf32>)
    -> (tensor<?x?x3xf32>, tensor<?x3xf32>)
    attributes {input_names = ["x"], param_names = ["w"], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x3xf32>) inputs(%xs : tensor<?x?x3xf32>) -> (tensor<?x3xf32>, tensor<?x?x3xf32>) {
  ^bb0(%h: tensor<3xf32>, %x: tensor<3xf32>):
    %zero = arith.constant dense<0.0> : tensor<3xf32>
    %wh = linalg.matvec ins(%w, %h : tensor<3x3xf32>, tensor<3xf32>) outs(%zero : tensor<3xf32>) -> tensor<3xf32>
    %szero = arith.constant dense<0.0> : tensor<f32>
    %sum = linalg.reduce ins(%h : tensor<3xf32>) outs(%szero : tensor<f32>) dimensions = [0]
      (%in: f32, %acc: f32) {
        %a = arith.addf %in, %acc : f32
        linalg.yield %a : f32
      }
    %e = tensor.empty() : tensor<3xf32>
    %sb = linalg.broadcast ins(%sum : tensor<f32>) outs(%e : tensor<3xf32>) dimensions = [0]
    %head = tensor.extract_slice %h[0] [2] [1] : tensor<3xf32> to tensor<2xf32>
    %one = tensor.extract_slice %x[0] [1] [1] : tensor<3xf32> to tensor<1xf32>
    %cat = tensor.concat dim(0) %one, %head : (tensor<1xf32>, tensor<2xf32>) -> tensor<3xf32>
    %s1 = arith.addf %wh, %sb : tensor<3xf32>
    %s2 = arith.addf %s1, %cat : tensor<3xf32>
    %n = math.tanh %s2 : tensor<3xf32>
    rec.yield %n, %n : tensor<3xf32>, tensor<3xf32>
  }
  rec.return %ys, %hT : tensor<?x?x3xf32>, tensor<?x3xf32>
}

// -----

// Left alone: a step op without a derivative rule; attention (its history is
// a state no Jacobian covers); a stateless recurrence.
// CHECK-LABEL: rec.model @no_rule
// CHECK-NOT: rec.newton
// CHECK: rec.recurrence
rec.model @no_rule(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = math.sin %h : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// CHECK-LABEL: rec.model @attention
// CHECK-NOT: rec.newton
// CHECK: rec.recurrence
rec.model @attention(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %o = rec.attention %x, %x, %h {scale = 1.0 : f64} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32> -> tensor<4xf32>
    %n = math.tanh %o : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// h = a h + x is scannable: rec-to-newton takes it (Newton converges in one
// step on a linear recurrence), unless told to leave the scan form's
// recurrences alone.
// CHECK-LABEL: rec.model @affine
// CHECK: rec.newton {{.*}} jacobian diagonal
// CHECK: rec.yield %{{.*}}, %{{.*}}, %[[A:.*]] :
// SKIP-SCANNABLE-LABEL: rec.model @affine
// SKIP-SCANNABLE-NOT: rec.newton
// SKIP-SCANNABLE: rec.recurrence
rec.model @affine(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %a: tensor<4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = ["a"], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %m = arith.mulf %a, %h : tensor<4xf32>
    %n = arith.addf %m, %x : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}
