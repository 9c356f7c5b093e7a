// RUN: seq-opt %s -convert-rec-to-cpu -split-input-file | FileCheck %s

// The entry point packs its arguments and runs the kernel through the
// runtime's seqc_call_guarded (a failed allocation returns 3); the kernel
// checks the sizes (1) and the pointers (2) before anything else.
// CHECK-DAG: func.func private @seqc_call_guarded(!llvm.ptr, !llvm.ptr) -> i32
// CHECK-LABEL: func.func private @decay_forward_unguarded(%{{.*}}: i64, %{{.*}}: i64, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) -> i32
// CHECK: arith.cmpi slt
// CHECK: scf.if
// CHECK: arith.constant 1 : i32
// CHECK: llvm.icmp "eq"
// CHECK: arith.constant 2 : i32
// CHECK-LABEL: func.func private @decay_forward_thunk(%{{.*}}: !llvm.ptr) -> i32
// CHECK-COUNT-7: llvm.load
// CHECK: %[[S:.*]] = call @decay_forward_unguarded(
// CHECK: return %[[S]]
// CHECK-LABEL: func.func @decay_forward(%{{.*}}: i64, %{{.*}}: i64, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) -> i32
// CHECK: %[[ARGS:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(i64, i64, ptr, ptr, ptr, ptr, ptr)>
// CHECK-COUNT-7: llvm.store
// CHECK: %[[F:.*]] = constant @decay_forward_thunk
// CHECK: %[[P:.*]] = builtin.unrealized_conversion_cast %[[F]]
// CHECK: %[[R:.*]] = call @seqc_call_guarded(%[[P]], %[[ARGS]])
// CHECK: return %[[R]]
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

// -----

// rec.scan becomes rec.linear_scan into fresh destinations, which
// bufferization later places in the caller's arrays.
// CHECK-LABEL: func.func private @scan_forward_unguarded
// CHECK: %[[S:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x4xf32>
// CHECK: %[[F:.*]] = tensor.empty(%{{.*}}) : tensor<?x4xf32>
// CHECK: rec.linear_scan ins(%{{.*}}, %{{.*}}, %{{.*}} : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x4xf32>) outs(%[[S]], %[[F]] : tensor<?x?x4xf32>, tensor<?x4xf32>) -> tensor<?x?x4xf32>, tensor<?x4xf32>
// CHECK-NOT: rec.scan
rec.model @scan(%B: index, %T: index, %a: tensor<?x?x4xf32>, %b: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
    attributes {input_names = ["a", "b"], param_names = [], state_names = ["h"],
                output_names = ["y"], state_init = array<f64: 0.0>, dims = {H = 4 : i64}} {
  %hs, %hT = rec.scan %a, %b, init %h0 : tensor<?x?x4xf32>, tensor<?x4xf32>
  rec.return %hs, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}
