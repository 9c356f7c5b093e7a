// Round trip of every rec op: printed, parsed, printed again (and through the
// generic form), unchanged.
// RUN: seq-opt %s | seq-opt | FileCheck %s
// RUN: seq-opt %s --mlir-print-op-generic | seq-opt | FileCheck %s

// CHECK-LABEL: rec.model @decay
// CHECK-SAME: (%[[B:.*]]: index, %[[T:.*]]: index, %{{.*}}: tensor<?x?x4xf32>, %{{.*}}: tensor<4xf32>, %{{.*}}: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
// CHECK-SAME: state_init = array<f64: 1.000000e+00>
// CHECK: %[[HT:.*]], %[[Y:.*]] = rec.recurrence batch %[[B]] length %[[T]] inits(%{{.*}} : tensor<?x4xf32>) inputs(%{{.*}} : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
// CHECK: ^bb0(%[[H:.*]]: tensor<4xf32>, %[[X:.*]]: tensor<4xf32>):
// CHECK: %[[M:.*]] = arith.mulf %{{.*}}, %[[H]] : tensor<4xf32>
// CHECK: %[[N:.*]] = arith.addf %[[M]], %[[X]] : tensor<4xf32>
// CHECK: rec.yield %[[N]], %[[N]] : tensor<4xf32>, tensor<4xf32>
// CHECK: rec.return %[[Y]], %[[HT]] : tensor<?x?x4xf32>, tensor<?x4xf32>
rec.model @decay(%B: index, %T: index, %x: tensor<?x?x4xf32>, %a: tensor<4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["x"], param_names = ["a"], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 1.0>, dims = {H = 4 : i64}} {
  %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%x : tensor<?x?x4xf32>)
      -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %xt: tensor<4xf32>):
    %m = arith.mulf %a, %h : tensor<4xf32>
    %n = arith.addf %m, %xt : tensor<4xf32>
    rec.yield %n, %n : tensor<4xf32>, tensor<4xf32>
  }
  rec.return %ys, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// A model with no state and no param: attention over the history.
// CHECK-LABEL: rec.model @attend
// CHECK: rec.recurrence batch %{{.*}} length %{{.*}} inputs(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>) -> (tensor<?x?x2x4xf32>)
// CHECK: rec.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 2.500000e-01 : f64, window = 16 : i64} : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x4xf32> -> tensor<2x4xf32>
rec.model @attend(%B: index, %T: index, %q: tensor<?x?x2x8xf32>, %k: tensor<?x?x2x8xf32>, %v: tensor<?x?x2x4xf32>)
    -> (tensor<?x?x2x4xf32>)
    attributes {input_names = ["q", "k", "v"], param_names = [], state_names = [],
                output_names = ["o"], state_init = array<f64>} {
  %o = rec.recurrence batch %B length %T inputs(%q, %k, %v : tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>)
      -> (tensor<?x?x2x4xf32>) {
  ^bb0(%qt: tensor<2x8xf32>, %kt: tensor<2x8xf32>, %vt: tensor<2x4xf32>):
    %a = rec.attention %qt, %kt, %vt {scale = 0.25 : f64, window = 16 : i64}
        : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x4xf32> -> tensor<2x4xf32>
    rec.yield %a : tensor<2x4xf32>
  }
  rec.return %o : tensor<?x?x2x4xf32>
}

// Scalars per step are rank-0 tensors; a state may start at -inf.
// CHECK-LABEL: rec.model @running_max
// CHECK-SAME: state_init = array<f64: 0xFFF0000000000000>
rec.model @running_max(%B: index, %T: index, %x: tensor<?x?xf32>, %m0: tensor<?xf32>) -> (tensor<?x?xf32>, tensor<?xf32>)
    attributes {input_names = ["x"], param_names = [], state_names = ["m"],
                output_names = ["y"], state_init = array<f64: 0xFFF0000000000000>} {
  %mT, %ys = rec.recurrence batch %B length %T inits(%m0 : tensor<?xf32>) inputs(%x : tensor<?x?xf32>)
      -> (tensor<?xf32>, tensor<?x?xf32>) {
  ^bb0(%m: tensor<f32>, %xt: tensor<f32>):
    %n = arith.maximumf %m, %xt : tensor<f32>
    rec.yield %n, %n : tensor<f32>, tensor<f32>
  }
  rec.return %ys, %mT : tensor<?x?xf32>, tensor<?xf32>
}

// A model without inputs: only the explicit length says how long it runs.
// CHECK-LABEL: rec.model @counter
// CHECK: rec.recurrence batch %{{.*}} length %{{.*}} inits(%{{.*}} : tensor<?xf32>) -> (tensor<?xf32>, tensor<?x?xf32>)
rec.model @counter(%B: index, %T: index, %n0: tensor<?xf32>) -> (tensor<?x?xf32>, tensor<?xf32>)
    attributes {input_names = [], param_names = [], state_names = ["n"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %nT, %ys = rec.recurrence batch %B length %T inits(%n0 : tensor<?xf32>)
      -> (tensor<?xf32>, tensor<?x?xf32>) {
  ^bb0(%n: tensor<f32>):
    %one = arith.constant dense<1.0> : tensor<f32>
    %m = arith.addf %n, %one : tensor<f32>
    rec.yield %m, %m : tensor<f32>, tensor<f32>
  }
  rec.return %ys, %nT : tensor<?x?xf32>, tensor<?xf32>
}

// The scan form: an elementwise affine scan, outside any recurrence.
// CHECK-LABEL: rec.model @scanned
// CHECK: %[[S:.*]], %[[F:.*]] = rec.scan %{{.*}}, %{{.*}}, init %{{.*}} : tensor<?x?x4xf32>, tensor<?x4xf32>
// CHECK: rec.return %[[S]], %[[F]] : tensor<?x?x4xf32>, tensor<?x4xf32>
rec.model @scanned(%B: index, %T: index, %a: tensor<?x?x4xf32>, %b: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["a", "b"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>} {
  %hs, %hT = rec.scan %a, %b, init %h0 : tensor<?x?x4xf32>, tensor<?x4xf32>
  rec.return %hs, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// A scan backwards in time (an adjoint's): `reverse` prints as a keyword.
// CHECK-LABEL: func.func @reverse_scans
// CHECK: rec.scan reverse %arg0, %arg0, init %arg1 : tensor<?x?x4xf32>, tensor<?x4xf32>
// CHECK: rec.linear_scan reverse ins(%arg2, %arg2, %arg3 : memref<?x?xf32>, memref<?x?xf32>, memref<?xf32>) outs(%arg2, %arg3 : memref<?x?xf32>, memref<?xf32>){{$}}
func.func @reverse_scans(%a: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>, %m: memref<?x?xf32>,
                         %m0: memref<?xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>) {
  %hs, %hT = rec.scan reverse %a, %a, init %h0 : tensor<?x?x4xf32>, tensor<?x4xf32>
  rec.linear_scan reverse ins(%m, %m, %m0 : memref<?x?xf32>, memref<?x?xf32>, memref<?xf32>)
                          outs(%m, %m0 : memref<?x?xf32>, memref<?xf32>)
  return %hs, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// The chunked form of a matrix state.
// CHECK-LABEL: func.func @chunked
// CHECK: %[[R:.*]], %[[F:.*]] = rec.chunked %arg0, %arg1, %arg2, log_decays %arg3, init %arg4 {chunk_size = 32 : i64} : tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>
// CHECK: return %[[R]], %[[F]]
func.func @chunked(%q: tensor<?x?x2x8xf32>, %k: tensor<?x?x2x8xf32>, %v: tensor<?x?x2x4xf32>,
                   %g: tensor<?x?x2x8xf32>, %s0: tensor<?x2x8x4xf32>)
    -> (tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>) {
  %r, %sT = rec.chunked %q, %k, %v, log_decays %g, init %s0 {chunk_size = 32 : i64}
      : tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>
  return %r, %sT : tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>
}

// The chunked form of a delta-rule state.
// CHECK-LABEL: func.func @chunked_delta
// CHECK: %[[R:.*]], %[[F:.*]] = rec.chunked_delta %arg0, %arg1, %arg2, %arg3, log_decays %arg4, init %arg5 {chunk_size = 32 : i64} : tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>
// CHECK: return %[[R]], %[[F]]
func.func @chunked_delta(%q: tensor<?x?x2x8xf32>, %k: tensor<?x?x2x8xf32>, %w: tensor<?x?x2x8xf32>,
                         %v: tensor<?x?x2x4xf32>, %g: tensor<?x?x2x8xf32>, %s0: tensor<?x2x8x4xf32>)
    -> (tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>) {
  %r, %sT = rec.chunked_delta %q, %k, %w, %v, log_decays %g, init %s0 {chunk_size = 32 : i64}
      : tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>
  return %r, %sT : tensor<?x?x2x4xf32>, tensor<?x2x8x4xf32>
}

// Chunked attention, with per-step queries and with one fixed query per head.
// CHECK-LABEL: func.func @chunked_attention
// CHECK: %[[O:.*]] = rec.chunked_attention %arg0, %arg1, %arg2 {chunk_size = 32 : i64, scale = 5.000000e-01 : f64, window = 8 : i64} : tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>
// CHECK: %[[P:.*]] = rec.chunked_attention %arg3, %arg1, %arg2 {chunk_size = 32 : i64, scale = 1.000000e+00 : f64} : tensor<2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>
// CHECK: return %[[O]], %[[P]]
func.func @chunked_attention(%q: tensor<?x?x2x8xf32>, %k: tensor<?x?x2x8xf32>, %v: tensor<?x?x2x4xf32>,
                             %fixed: tensor<2x8xf32>) -> (tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>) {
  %o = rec.chunked_attention %q, %k, %v {scale = 0.5 : f64, window = 8 : i64, chunk_size = 32 : i64}
      : tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>
  %p = rec.chunked_attention %fixed, %k, %v {scale = 1.0 : f64, chunk_size = 32 : i64}
      : tensor<2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x4xf32>
  return %o, %p : tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>
}

// rec.linear_scan on tensors (results) and on buffers (none).
// CHECK-LABEL: func.func @linear_scans
// CHECK: %{{.*}}:2 = rec.linear_scan ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x4xf32>) outs(%{{.*}}, %{{.*}} : tensor<?x?x4xf32>, tensor<?x4xf32>) -> tensor<?x?x4xf32>, tensor<?x4xf32>
// CHECK: rec.linear_scan ins(%{{.*}}, %{{.*}}, %{{.*}} : memref<?x?xf32>, memref<?x?xf32>, memref<?xf32>) outs(%{{.*}}, %{{.*}} : memref<?x?xf32>, memref<?xf32>){{$}}
func.func @linear_scans(%a: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>, %s: tensor<?x?x4xf32>,
                        %f: tensor<?x4xf32>, %m: memref<?x?xf32>, %m0: memref<?xf32>) {
  %hs, %hT = rec.linear_scan ins(%a, %a, %h0 : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x4xf32>)
                             outs(%s, %f : tensor<?x?x4xf32>, tensor<?x4xf32>)
                             -> tensor<?x?x4xf32>, tensor<?x4xf32>
  rec.linear_scan ins(%m, %m, %m0 : memref<?x?xf32>, memref<?x?xf32>, memref<?xf32>)
                  outs(%m, %m0 : memref<?x?xf32>, memref<?xf32>)
  return
}

// The Newton form: the step yields the new state, the output and then the
// Jacobian; the options print as keywords and attributes.
// CHECK-LABEL: func.func @newton_forms
// CHECK: rec.newton batch %{{.*}} length %{{.*}} inits(%{{.*}} : tensor<?x4xf32>) inputs(%{{.*}} : tensor<?x?x4xf32>) jacobian diagonal -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
// CHECK: rec.yield %{{.*}}, %{{.*}}, %{{.*}} : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
// CHECK-NEXT: } {max_iters = 8 : i64, tol = 1.000000e-05 : f64}
// CHECK: rec.newton {{.*}} jacobian block_diagonal quasi guess zero -> (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x?x2xf32>) {
// CHECK: } {max_iters = 3 : i64, min_length = 512 : i64, tol = 0.000000e+00 : f64}
// CHECK: rec.newton {{.*}} jacobian dense -> (tensor<?x2xf32>, tensor<?xf32>) {
// CHECK: rec.yield %{{.*}}, %{{.*}} : tensor<2xf32>, tensor<f32>, tensor<3x3xf32>
func.func @newton_forms(%B: index, %T: index, %h0: tensor<?x4xf32>, %xs: tensor<?x?x4xf32>,
                        %p0: tensor<?x2xf32>, %s0: tensor<?xf32>, %j: tensor<3x3xf32>) {
  %hT, %ys = rec.newton batch %B length %T inits(%h0 : tensor<?x4xf32>) inputs(%xs : tensor<?x?x4xf32>)
      jacobian diagonal -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
  ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
    %n = math.exp %h : tensor<4xf32>
    rec.yield %n, %n, %n : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
  } {max_iters = 8 : i64, tol = 1.0e-05 : f64}
  %a, %b, %ps = rec.newton batch %B length %T inits(%p0, %p0 : tensor<?x2xf32>, tensor<?x2xf32>)
      jacobian block_diagonal quasi guess zero -> (tensor<?x2xf32>, tensor<?x2xf32>, tensor<?x?x2xf32>) {
  ^bb0(%p: tensor<2xf32>, %q: tensor<2xf32>):
    rec.yield %q, %p, %p, %p, %p, %p, %p : tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>
  } {max_iters = 3 : i64, tol = 0.0 : f64, min_length = 512 : i64}
  %c, %d = rec.newton batch %B length %T inits(%p0, %s0 : tensor<?x2xf32>, tensor<?xf32>)
      jacobian dense -> (tensor<?x2xf32>, tensor<?xf32>) {
  ^bb0(%p: tensor<2xf32>, %s: tensor<f32>):
    rec.yield %p, %s, %j : tensor<2xf32>, tensor<f32>, tensor<3x3xf32>
  } {max_iters = 3 : i64, tol = 1.0e-03 : f64}
  return
}

// What a kernel asks of its runtime: the thread count, and the reports of
// the Newton and chunked forms.
// CHECK-LABEL: func.func @runtime_queries
// CHECK: %[[N:.*]] = rec.thread_count : i64
// CHECK: rec.newton_report %{{.*}}, %{{.*}}, %{{.*}}
// CHECK: rec.chunk_fallback_report
// CHECK: return %[[N]]
func.func @runtime_queries(%iterations: index, %converged: i1, %residual: f32) -> i64 {
  %n = rec.thread_count : i64
  rec.newton_report %iterations, %converged, %residual
  rec.chunk_fallback_report
  return %n : i64
}
