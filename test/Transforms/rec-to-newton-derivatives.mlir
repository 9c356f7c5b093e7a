// RUN: seq-opt %s -split-input-file -pass-pipeline='builtin.module(rec.model(rec-to-newton,canonicalize))' | FileCheck %s

// The derivative IR of every op with a rule, one op per model applied to the
// state h, so the Jacobian yielded after the state and the output is that
// op's derivative (seeded with ones; canonicalize folds the products by one).

// -----

// d exp(h) = exp(h)
// CHECK-LABEL: rec.model @exp
// CHECK: rec.newton {{.*}} jacobian diagonal
// CHECK: %[[N:.*]] = math.exp %[[H:.*]] : tensor<4xf32>
// CHECK-NEXT: rec.yield %[[N]], %[[N]], %[[N]] :
rec.model @exp(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = math.exp %h : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// d tanh(h) = 1 - tanh(h)^2
// CHECK-LABEL: rec.model @tanh
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00>
// CHECK: %[[N:.*]] = math.tanh
// CHECK-NEXT: %[[SQ:.*]] = arith.mulf %[[N]], %[[N]]
// CHECK-NEXT: %[[J:.*]] = arith.subf %[[ONE]], %[[SQ]]
// CHECK-NEXT: rec.yield %[[N]], %[[N]], %[[J]] :
rec.model @tanh(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = math.tanh %h : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// sigmoid as the front end writes it, 1 / (1 + exp(-h)): with e = exp(-h),
// de = -e and d(1 / (1 + e)) = -(y de) / (1 + e) = y e / (1 + e) = y (1 - y).
// CHECK-LABEL: rec.model @sigmoid
// CHECK: %[[MINUS:.*]] = arith.constant dense<-1.000000e+00>
// CHECK: %[[E:.*]] = math.exp
// CHECK-NEXT: %[[D:.*]] = arith.addf %[[E]], %{{.*}}
// CHECK-NEXT: %[[Y:.*]] = arith.divf %{{.*}}, %[[D]]
// CHECK-NEXT: %[[DE:.*]] = arith.mulf %[[E]], %[[MINUS]]
// CHECK-NEXT: %[[YDE:.*]] = arith.mulf %[[Y]], %[[DE]]
// CHECK-NEXT: %[[NUM:.*]] = arith.negf %[[YDE]]
// CHECK-NEXT: %[[J:.*]] = arith.divf %[[NUM]], %[[D]]
// CHECK-NEXT: rec.yield %[[Y]], %[[Y]], %[[J]] :
rec.model @sigmoid(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %one = arith.constant dense<1.0> : tensor<4xf32>
    %neg = arith.negf %h : tensor<4xf32>
    %e = math.exp %neg : tensor<4xf32>
    %d = arith.addf %e, %one : tensor<4xf32>
    %n = arith.divf %one, %d : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// softplus as the front end writes it, max(h, 0) + log1p(exp(-|h|)): the
// derivative of max picks the chosen operand's, |h|'s is the sign, log1p's
// is 1 / (1 + e). (Their sum is sigmoid(h).)
// CHECK-LABEL: rec.model @softplus
// CHECK-DAG: %[[MINUS:.*]] = arith.constant dense<-1.000000e+00>
// CHECK-DAG: %[[ONE:.*]] = arith.constant dense<1.000000e+00>
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00>
// CHECK: ^bb0(%[[H:[^:]*]]: tensor<4xf32>
// CHECK: %[[E:.*]] = math.exp
// CHECK: %[[N:.*]] = arith.addf
// CHECK-NEXT: %[[GE:.*]] = arith.cmpf oge, %[[H]], %[[ZERO]]
// CHECK-NEXT: %[[DRELU:.*]] = arith.select %[[GE]], %[[ONE]], %[[ZERO]]
// CHECK-NEXT: %[[LT:.*]] = arith.cmpf olt, %[[H]], %[[ZERO]]
// CHECK-NEXT: %[[SIGN:.*]] = arith.select %[[LT]], %[[MINUS]], %[[ONE]]
// CHECK-NEXT: %[[DNABS:.*]] = arith.negf %[[SIGN]]
// CHECK-NEXT: %[[DE:.*]] = arith.mulf %[[E]], %[[DNABS]]
// CHECK-NEXT: %[[ONEPLUS:.*]] = arith.addf %[[E]], %[[ONE]]
// CHECK-NEXT: %[[DTAIL:.*]] = arith.divf %[[DE]], %[[ONEPLUS]]
// CHECK-NEXT: %[[J:.*]] = arith.addf %[[DRELU]], %[[DTAIL]]
// CHECK-NEXT: rec.yield %[[N]], %[[N]], %[[J]] :
rec.model @softplus(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %zero = arith.constant dense<0.0> : tensor<4xf32>
    %relu = arith.maximumf %h, %zero : tensor<4xf32>
    %abs = math.absf %h : tensor<4xf32>
    %nabs = arith.negf %abs : tensor<4xf32>
    %e = math.exp %nabs : tensor<4xf32>
    %tail = math.log1p %e : tensor<4xf32>
    %n = arith.addf %relu, %tail : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// d (h h) = h + h
// CHECK-LABEL: rec.model @product
// CHECK: ^bb0(%[[H:[^:]*]]: tensor<4xf32>
// CHECK: %[[N:.*]] = arith.mulf %[[H]], %[[H]]
// CHECK-NEXT: %[[J:.*]] = arith.addf %[[H]], %[[H]]
// CHECK-NEXT: rec.yield %[[N]], %[[N]], %[[J]] :
rec.model @product(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = arith.mulf %h, %h : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// d (x / h) = -(x / h) / h
// CHECK-LABEL: rec.model @quotient
// CHECK: ^bb0(%[[H:[^:]*]]: tensor<4xf32>, %[[X:[^:]*]]: tensor<4xf32>
// CHECK: %[[N:.*]] = arith.divf %[[X]], %[[H]]
// CHECK-NEXT: %[[NEG:.*]] = arith.negf %[[N]]
// CHECK-NEXT: %[[J:.*]] = arith.divf %[[NEG]], %[[H]]
// CHECK-NEXT: rec.yield %[[N]], %[[N]], %[[J]] :
rec.model @quotient(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = arith.divf %x, %h : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// d log(h) = 1 / h
// CHECK-LABEL: rec.model @log
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00>
// CHECK: ^bb0(%[[H:[^:]*]]: tensor<4xf32>
// CHECK: %[[N:.*]] = math.log %[[H]]
// CHECK-NEXT: %[[J:.*]] = arith.divf %[[ONE]], %[[H]]
// CHECK-NEXT: rec.yield %[[N]], %[[N]], %[[J]] :
rec.model @log(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = math.log %h : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// d sqrt(h) = 1 / (2 sqrt(h))
// CHECK-LABEL: rec.model @sqrt
// CHECK-DAG: %[[TWO:.*]] = arith.constant dense<2.000000e+00>
// CHECK-DAG: %[[ONE:.*]] = arith.constant dense<1.000000e+00>
// CHECK: %[[N:.*]] = math.sqrt
// CHECK-NEXT: %[[TWICE:.*]] = arith.mulf %[[N]], %[[TWO]]
// CHECK-NEXT: %[[J:.*]] = arith.divf %[[ONE]], %[[TWICE]]
// CHECK-NEXT: rec.yield %[[N]], %[[N]], %[[J]] :
rec.model @sqrt(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = math.sqrt %h : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// d h^(-1/2) = -1/2 h^(-3/2) = -1/2 rsqrt(h)^3
// CHECK-LABEL: rec.model @rsqrt
// CHECK: %[[HALF:.*]] = arith.constant dense<-5.000000e-01>
// CHECK: %[[N:.*]] = math.rsqrt
// CHECK-NEXT: %[[SQ:.*]] = arith.mulf %[[N]], %[[N]]
// CHECK-NEXT: %[[CUBE:.*]] = arith.mulf %[[SQ]], %[[N]]
// CHECK-NEXT: %[[J:.*]] = arith.mulf %[[CUBE]], %[[HALF]]
// CHECK-NEXT: rec.yield %[[N]], %[[N]], %[[J]] :
rec.model @rsqrt(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = math.rsqrt %h : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// d h^x = x h^(x-1) (x is free of the state)
// CHECK-LABEL: rec.model @pow
// CHECK: %[[ONE:.*]] = arith.constant dense<1.000000e+00>
// CHECK: ^bb0(%[[H:[^:]*]]: tensor<4xf32>, %[[X:[^:]*]]: tensor<4xf32>
// CHECK: %[[N:.*]] = math.powf %[[H]], %[[X]]
// CHECK-NEXT: %[[XM1:.*]] = arith.subf %[[X]], %[[ONE]]
// CHECK-NEXT: %[[P:.*]] = math.powf %[[H]], %[[XM1]]
// CHECK-NEXT: %[[J:.*]] = arith.mulf %[[X]], %[[P]]
// CHECK-NEXT: rec.yield %[[N]], %[[N]], %[[J]] :
rec.model @pow(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = math.powf %h, %x : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// d min(h, x) = 1 where h is chosen, else 0
// CHECK-LABEL: rec.model @minimum
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00>
// CHECK-DAG: %[[ONE:.*]] = arith.constant dense<1.000000e+00>
// CHECK: ^bb0(%[[H:[^:]*]]: tensor<4xf32>, %[[X:[^:]*]]: tensor<4xf32>
// CHECK: %[[N:.*]] = arith.minimumf %[[H]], %[[X]]
// CHECK-NEXT: %[[LE:.*]] = arith.cmpf ole, %[[H]], %[[X]]
// CHECK-NEXT: %[[J:.*]] = arith.select %[[LE]], %[[ONE]], %[[ZERO]]
// CHECK-NEXT: rec.yield %[[N]], %[[N]], %[[J]] :
rec.model @minimum(%B: index, %T: index, %xs: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = arith.minimumf %h, %x : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}
