// RUN: seq-opt %s -split-input-file -pass-pipeline='builtin.module(rec-expand-newton,canonicalize,cse)' | FileCheck %s

// A diagonal Jacobian: sequences shorter than min_length (and T = 0) run
// sequentially; otherwise the first guess is one step from h0 at every t.
// Each assessment of a guess H evaluates the step and its Jacobian at the
// shifted guess (h0, H[0..T-2]) for all steps at once and measures
// max |H - F| / (1 + |F|); the loop runs while that is above the tolerance
// and fewer than max_iters solves have run, each solving
// h = J h + (F - J h_prev) with one rec.scan and assessing the result.
// Converged: the final state is F[T-1] and the outputs are that
// evaluation's; otherwise the sequential recurrence runs.
// CHECK-LABEL: rec.model @gru
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x?x4xf32>, %[[H0:[^:]*]]: tensor<?x4xf32>
// CHECK-DAG: %[[TOL:.*]] = arith.constant 9.99999974E-6 : f32
// CHECK-DAG: %[[MAX:.*]] = arith.constant 6 : index
// CHECK-DAG: %[[MIN:.*]] = arith.constant 16 : index
// CHECK: %[[LONG:.*]] = arith.cmpi sge, %{{.*}}, %[[MIN]] : index
// CHECK: %[[ATTEMPT:.*]]:3 = scf.if %[[LONG]] -> (tensor<?x4xf32>, tensor<?x?x4xf32>, i1) {
// CHECK: %[[EVERY:.*]] = linalg.broadcast ins(%[[H0]] : tensor<?x4xf32>) {{.*}} dimensions = [1]
// CHECK: %[[GUESS:.*]] = rec.recurrence batch %{{.*}} length %{{.*}} inputs(%[[EVERY]], %[[X]] : {{.*}}) -> (tensor<?x?x4xf32>)
// CHECK: math.tanh
// CHECK: %[[FIRST:.*]] = tensor.insert_slice %[[H0]] into %{{.*}}[0, 0, 0] [%{{.*}}, 1, 4]
// CHECK: %[[HEAD:.*]] = tensor.extract_slice %[[GUESS]][0, 0, 0] [%{{.*}}, %[[TM1:.*]], 4]
// CHECK: %[[PREV:.*]] = tensor.insert_slice %[[HEAD]] into %[[FIRST]][0, 1, 0] [%{{.*}}, %[[TM1]], 4]
// The new state is also the output: one sequence for both.
// CHECK: %[[EVAL:.*]]:3 = rec.recurrence batch %{{.*}} length %{{.*}} inputs(%[[PREV]], %[[X]] :
// CHECK: ^bb0(%[[HP:[^:]*]]: tensor<4xf32>
// CHECK: %[[F:.*]] = math.tanh
// CHECK: %[[J:.*]] = arith.subf %{{.*}}, %{{.*}} : tensor<4xf32>
// CHECK: %[[JH:.*]] = arith.mulf %[[J]], %[[HP]]
// CHECK: %[[OFFSET:.*]] = arith.subf %[[F]], %[[JH]]
// CHECK: rec.yield %[[F]], %[[J]], %[[OFFSET]]
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "reduction", "reduction"]} ins(%[[GUESS]], %[[EVAL]]#0
// CHECK: math.absf
// CHECK: arith.maximumf
// CHECK: %[[R0:.*]] = tensor.extract
// CHECK: %[[LOOP:.*]]:5 = scf.while (%{{[^ ]*}} = %[[EVAL]]#0, %{{[^ ]*}} = %[[EVAL]]#1, %{{[^ ]*}} = %[[EVAL]]#2, %[[R:[^ ]*]] = %[[R0]], %[[K:[^ ]*]] = %{{.*}})
// CHECK: %[[ABOVE:.*]] = arith.cmpf ogt, %[[R]], %[[TOL]]
// CHECK: %[[MORE:.*]] = arith.cmpi slt, %[[K]], %[[MAX]]
// CHECK: %[[AGAIN:.*]] = arith.andi %[[ABOVE]], %[[MORE]]
// CHECK: scf.condition(%[[AGAIN]])
// CHECK: } do {
// CHECK: ^bb0(%{{[^:]*}}: tensor<?x?x4xf32>, %[[A:[^:]*]]: tensor<?x?x4xf32>, %[[B:[^:]*]]: tensor<?x?x4xf32>, %{{[^:]*}}: f32, %[[K2:[^:]*]]: index
// CHECK: %[[NEXT:.*]], %{{.*}} = rec.scan %[[A]], %[[B]], init %[[H0]]
// CHECK: tensor.extract_slice %[[NEXT]]
// CHECK: %[[EVAL2:.*]]:3 = rec.recurrence
// CHECK: linalg.generic {{.*}} ins(%[[NEXT]], %[[EVAL2]]#0
// CHECK: %[[R2:.*]] = tensor.extract
// CHECK: %[[K3:.*]] = arith.addi %[[K2]]
// CHECK: scf.yield %[[EVAL2]]#0, %[[EVAL2]]#1, %[[EVAL2]]#2, %[[R2]], %[[K3]]
// CHECK: %[[CONVERGED:.*]] = arith.cmpf ole, %[[LOOP]]#3, %[[TOL]]
// CHECK: rec.newton_report %[[LOOP]]#4, %[[CONVERGED]], %[[LOOP]]#3
// CHECK: %[[LAST:.*]] = tensor.extract_slice %[[LOOP]]#0[0, %{{.*}}, 0] [%{{.*}}, 1, 4]
// CHECK: scf.yield %[[LAST]], %[[LOOP]]#0, %[[CONVERGED]]
// CHECK: } else {
// CHECK: scf.yield %{{.*}}, %{{.*}}, %false
// CHECK: %[[RESULT:.*]]:2 = scf.if %[[ATTEMPT]]#2
// CHECK-NEXT: scf.yield %[[ATTEMPT]]#0, %[[ATTEMPT]]#1
// CHECK-NEXT: } else {
// CHECK-NEXT: %[[SEQ:.*]]:2 = rec.recurrence batch %{{.*}} length %{{.*}} inits(%[[H0]] : tensor<?x4xf32>) inputs(%[[X]] :
// CHECK-NOT: arith.subf
// CHECK: rec.yield
// CHECK: scf.yield %[[SEQ]]#0, %[[SEQ]]#1
// CHECK: rec.return %[[RESULT]]#1, %[[RESULT]]#0
rec.model @gru(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.newton batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      jacobian diagonal -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %s = arith.addf %h, %x : tensor<4xf32>
    %n = math.tanh %s : tensor<4xf32>
    %one = arith.constant dense<1.0> : tensor<4xf32>
    %sq = arith.mulf %n, %n : tensor<4xf32>
    %j = arith.subf %one, %sq : tensor<4xf32>
    rec.yield %n, %n, %j : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  } {max_iters = 6 : i64, tol = 1.0e-05 : f64, min_length = 16 : i64}
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// 2x2 blocks: the solve is a sequential recurrence over the two states,
// h_i = sum_j a_ij h_j + b_i elementwise, reading the four blocks and the
// two offsets; the residual covers both states.
// CHECK-LABEL: rec.model @lstm
// CHECK: rec.recurrence {{.*}} -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>)
// CHECK: %[[R1:.*]] = tensor.extract
// CHECK: %[[R2:.*]] = tensor.extract
// CHECK: arith.maximumf %[[R1]], %[[R2]] : f32
// CHECK: scf.while
// CHECK: } do {
// CHECK: rec.recurrence batch %{{.*}} length %{{.*}} inits(%{{.*}}, %{{.*}} : tensor<?x4xf32>, tensor<?x4xf32>) inputs(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} :
// CHECK-NEXT: ^bb0(%[[C:[^:]*]]: tensor<4xf32>, %[[H:[^:]*]]: tensor<4xf32>, %[[ACC:[^:]*]]: tensor<4xf32>, %[[ACH:[^:]*]]: tensor<4xf32>, %[[AHC:[^:]*]]: tensor<4xf32>, %[[AHH:[^:]*]]: tensor<4xf32>, %[[BC:[^:]*]]: tensor<4xf32>, %[[BH:[^:]*]]: tensor<4xf32>):
// CHECK-DAG: arith.mulf %[[ACC]], %[[C]]
// CHECK-DAG: arith.mulf %[[ACH]], %[[H]]
// CHECK-DAG: arith.mulf %[[AHC]], %[[C]]
// CHECK-DAG: arith.mulf %[[AHH]], %[[H]]
// CHECK: rec.yield
rec.model @lstm(%B: index, %T: index, %x: tensor<?x?x4xf32>, %c_init: tensor<?x4xf32>, %h_init: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) attributes {input_names = ["x"], output_names = ["y"], param_names = [], state_init = array<f64: 0.000000e+00, 0.000000e+00>, state_names = ["c", "h"]} {
  %cst = arith.constant dense<1.000000e+00> : tensor<4xf32>
  %0:3 = rec.newton batch %B length %T inits(%c_init, %h_init : tensor<?x4xf32>, tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>) jacobian block_diagonal -> (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%c: tensor<4xf32>, %h: tensor<4xf32>, %x_t: tensor<4xf32>):
    %1 = arith.addf %h, %x_t : tensor<4xf32>
    %2 = math.tanh %1 : tensor<4xf32>
    %3 = arith.mulf %2, %c : tensor<4xf32>
    %4 = math.tanh %3 : tensor<4xf32>
    %5 = arith.mulf %4, %4 : tensor<4xf32>
    %6 = arith.subf %cst, %5 : tensor<4xf32>
    %7 = arith.mulf %6, %2 : tensor<4xf32>
    %8 = arith.mulf %2, %2 : tensor<4xf32>
    %9 = arith.subf %cst, %8 : tensor<4xf32>
    %10 = arith.mulf %9, %c : tensor<4xf32>
    %11 = arith.mulf %4, %4 : tensor<4xf32>
    %12 = arith.subf %cst, %11 : tensor<4xf32>
    %13 = arith.mulf %12, %10 : tensor<4xf32>
    rec.yield %3, %4, %4, %2, %10, %7, %13 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  } {max_iters = 10 : i64, tol = 1.000000e-05 : f64}
  rec.return %0#2, %0#0, %0#1 : tensor<?x?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// Dense: the step also yields c = F - J h_prev (a matvec), and the solve is
// a sequential recurrence of h = J h + c.
// CHECK-LABEL: rec.model @mixing
// CHECK: %[[J:.*]] = scf.for
// CHECK: %[[JH:.*]] = linalg.matvec ins(%[[J]], %{{.*}} : tensor<3x3xf32>, tensor<3xf32>)
// CHECK: arith.subf %{{.*}}, %[[JH]]
// CHECK: scf.while
// CHECK: } do {
// CHECK: rec.recurrence batch %{{.*}} length %{{.*}} inits(%{{.*}} : tensor<?x3xf32>) inputs(%{{.*}}, %{{.*}} : tensor<?x?x3x3xf32>, tensor<?x?x3xf32>)
// CHECK-NEXT: ^bb0(%[[H:[^:]*]]: tensor<3xf32>, %[[JT:[^:]*]]: tensor<3x3xf32>, %[[CT:[^:]*]]: tensor<3xf32>):
// CHECK-NEXT: %[[NEXT:.*]] = linalg.matvec ins(%[[JT]], %[[H]] : tensor<3x3xf32>, tensor<3xf32>) outs(%[[CT]] : tensor<3xf32>)
// CHECK-NEXT: rec.yield %[[NEXT]], %[[NEXT]]
rec.model @mixing(%B: index, %T: index, %x: tensor<?x?x3xf32>, %w: tensor<3x3xf32>, %h_init: tensor<?x3xf32>) -> (tensor<?x?x3xf32>, tensor<?x3xf32>) attributes {input_names = ["x"], output_names = ["y"], param_names = ["w"], state_init = array<f64: 0.000000e+00>, state_names = ["h"]} {
  %cst = arith.constant dense<1.000000e+00> : tensor<3xf32>
  %cst_0 = arith.constant dense<0.000000e+00> : tensor<1xf32>
  %cst_1 = arith.constant 1.000000e+00 : f32
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c0 = arith.constant 0 : index
  %cst_2 = arith.constant dense<0.000000e+00> : tensor<3x3xf32>
  %cst_3 = arith.constant dense<0.000000e+00> : tensor<f32>
  %cst_4 = arith.constant dense<0.000000e+00> : tensor<3xf32>
  %0:2 = rec.newton batch %B length %T inits(%h_init : tensor<?x3xf32>) inputs(%x : tensor<?x?x3xf32>) jacobian dense -> (tensor<?x3xf32>, tensor<?x?x3xf32>) {
  ^bb0(%h: tensor<3xf32>, %x_t: tensor<3xf32>):
    %1 = linalg.matvec ins(%w, %h : tensor<3x3xf32>, tensor<3xf32>) outs(%cst_4 : tensor<3xf32>) -> tensor<3xf32>
    %reduced = linalg.reduce ins(%h : tensor<3xf32>) outs(%cst_3 : tensor<f32>) dimensions = [0] 
      (%in: f32, %init: f32) {
        %7 = arith.addf %in, %init : f32
        linalg.yield %7 : f32
      }
    %2 = tensor.empty() : tensor<3xf32>
    %broadcasted = linalg.broadcast ins(%reduced : tensor<f32>) outs(%2 : tensor<3xf32>) dimensions = [0] 
    %extracted_slice = tensor.extract_slice %h[0] [2] [1] : tensor<3xf32> to tensor<2xf32>
    %extracted_slice_5 = tensor.extract_slice %x_t[0] [1] [1] : tensor<3xf32> to tensor<1xf32>
    %concat = tensor.concat dim(0) %extracted_slice_5, %extracted_slice : (tensor<1xf32>, tensor<2xf32>) -> tensor<3xf32>
    %3 = arith.addf %1, %broadcasted : tensor<3xf32>
    %4 = arith.addf %3, %concat : tensor<3xf32>
    %5 = math.tanh %4 : tensor<3xf32>
    %6 = scf.for %arg0 = %c0 to %c3 step %c1 iter_args(%arg1 = %cst_2) -> (tensor<3x3xf32>) {
      %inserted = tensor.insert %cst_1 into %cst_4[%arg0] : tensor<3xf32>
      %7 = linalg.matvec ins(%w, %inserted : tensor<3x3xf32>, tensor<3xf32>) outs(%cst_4 : tensor<3xf32>) -> tensor<3xf32>
      %reduced_6 = linalg.reduce ins(%inserted : tensor<3xf32>) outs(%cst_3 : tensor<f32>) dimensions = [0] 
        (%in: f32, %init: f32) {
          %13 = arith.addf %in, %init : f32
          linalg.yield %13 : f32
        }
      %broadcasted_7 = linalg.broadcast ins(%reduced_6 : tensor<f32>) outs(%2 : tensor<3xf32>) dimensions = [0] 
      %extracted_slice_8 = tensor.extract_slice %inserted[0] [2] [1] : tensor<3xf32> to tensor<2xf32>
      %concat_9 = tensor.concat dim(0) %cst_0, %extracted_slice_8 : (tensor<1xf32>, tensor<2xf32>) -> tensor<3xf32>
      %8 = arith.addf %7, %broadcasted_7 : tensor<3xf32>
      %9 = arith.addf %8, %concat_9 : tensor<3xf32>
      %10 = arith.mulf %5, %5 : tensor<3xf32>
      %11 = arith.subf %cst, %10 : tensor<3xf32>
      %12 = arith.mulf %11, %9 : tensor<3xf32>
      %inserted_slice = tensor.insert_slice %12 into %arg1[0, %arg0] [3, 1] [1, 1] : tensor<3xf32> into tensor<3x3xf32>
      scf.yield %inserted_slice : tensor<3x3xf32>
    }
    rec.yield %5, %5, %6 : tensor<3xf32>, tensor<3xf32>, tensor<3x3xf32>
  } {max_iters = 10 : i64, tol = 1.000000e-05 : f64}
  rec.return %0#1, %0#0 : tensor<?x?x3xf32>, tensor<?x3xf32>
}

// -----

// min_threads_per_row asks the runtime how many threads it has: Newton runs
// only when there are that many per batch row (and T >= min_length).
// CHECK-LABEL: rec.model @threads
// CHECK-DAG: %[[PER_ROW:.*]] = arith.constant 32 : index
// CHECK-DAG: %[[MIN:.*]] = arith.constant 4096 : index
// CHECK: %[[LONG:.*]] = arith.cmpi sge, %{{.*}}, %[[MIN]]
// CHECK: %[[WANTED:.*]] = arith.muli %{{.*}}, %[[PER_ROW]]
// CHECK: %[[THREADS:.*]] = rec.thread_count : i64
// CHECK: %[[HAVE:.*]] = arith.index_cast %[[THREADS]] : i64 to index
// CHECK: %[[ENOUGH:.*]] = arith.cmpi sge, %[[HAVE]], %[[WANTED]]
// CHECK: %[[BOTH:.*]] = arith.andi %[[LONG]], %[[ENOUGH]]
// CHECK: scf.if %[[BOTH]]
rec.model @threads(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.newton batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      jacobian diagonal -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = math.exp %h : tensor<4xf32>
    rec.yield %n, %n, %n : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  } {max_iters = 6 : i64, tol = 1.0e-05 : f64, min_length = 4096 : i64, min_threads_per_row = 32 : i64}
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}
