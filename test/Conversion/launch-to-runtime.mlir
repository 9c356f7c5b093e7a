// RUN: seq-opt %s --convert-launch-to-runtime --split-input-file --verify-diagnostics | FileCheck %s

// The PTX becomes a string, the module a slot for the launcher's cache, and
// the launch a call with its arguments behind an array of pointers.
// CHECK-DAG: llvm.mlir.global internal constant @seqc_kernels_ptx("//PTX\00")
// CHECK-DAG: llvm.mlir.global internal @seqc_kernels_module() {{.*}} : !llvm.ptr
// CHECK-DAG: llvm.mlir.global internal constant @seqc_kernels_k_name("k\00")
// CHECK-DAG: llvm.func @seqc_cuda_launch(!llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i64, i64, i64, i64, i64, i32, !llvm.ptr, i32)
//   CHECK-NOT: gpu.binary
// CHECK-LABEL: llvm.func @host
//  CHECK-SAME: (%[[P:.*]]: !llvm.ptr, %[[N:.*]]: i64)
//       CHECK: %[[FIELDS:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(ptr, i64)>
//       CHECK: %[[ARRAY:.*]] = llvm.alloca %{{.*}} x !llvm.ptr
//       CHECK: %[[F0:.*]] = llvm.getelementptr %[[FIELDS]][0, 0]
//       CHECK: llvm.store %[[P]], %[[F0]]
//       CHECK: %[[F1:.*]] = llvm.getelementptr %[[FIELDS]][0, 1]
//       CHECK: llvm.store %[[N]], %[[F1]]
//       CHECK: %[[SLOT:.*]] = llvm.mlir.addressof @seqc_kernels_module
//       CHECK: %[[PTX:.*]] = llvm.mlir.addressof @seqc_kernels_ptx
//       CHECK: %[[NAME:.*]] = llvm.mlir.addressof @seqc_kernels_k_name
//       CHECK: llvm.call @seqc_cuda_launch(%[[SLOT]], %[[PTX]], %[[NAME]], %[[N]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[ARRAY]], %{{.*}})
//   CHECK-NOT: gpu.launch_func
module attributes {gpu.container_module} {
  gpu.binary @seqc_kernels [#gpu.object<#nvvm.target<chip = "sm_80">, assembly = "//PTX">]
  llvm.func @host(%p: !llvm.ptr, %n: i64) {
    %c1 = llvm.mlir.constant(1 : i64) : i64
    %c256 = llvm.mlir.constant(256 : i64) : i64
    gpu.launch_func @seqc_kernels::@k blocks in (%n, %c1, %c1) threads in (%c256, %c1, %c1) : i64 args(%p : !llvm.ptr, %n : i64)
    llvm.return
  }
}

// -----

module attributes {gpu.container_module} {
  // expected-error @below {{expected one PTX (assembly) object in the binary}}
  gpu.binary @seqc_kernels [#gpu.object<#nvvm.target<chip = "sm_80">, bin = "CUBIN">]
}

// -----

// The host's buffers are device memory: upstream's generic allocation
// functions become the launcher's stream-ordered allocator.
// CHECK-LABEL: module attributes {gpu.container_module} {
//   CHECK-NOT: _mlir_memref_to_llvm
//   CHECK-DAG: llvm.func @seqc_cuda_alloc(i64) -> !llvm.ptr
//   CHECK-DAG: llvm.func @seqc_cuda_free(!llvm.ptr)
//       CHECK: llvm.func @buffers(%[[BYTES:.*]]: i64)
//       CHECK:   %[[P:.*]] = llvm.call @seqc_cuda_alloc(%[[BYTES]]) : (i64) -> !llvm.ptr
//       CHECK:   llvm.call @seqc_cuda_free(%[[P]]) : (!llvm.ptr) -> ()
module attributes {gpu.container_module} {
  llvm.func @_mlir_memref_to_llvm_alloc(i64) -> !llvm.ptr
  llvm.func @_mlir_memref_to_llvm_free(!llvm.ptr)
  llvm.func @buffers(%bytes: i64) {
    %p = llvm.call @_mlir_memref_to_llvm_alloc(%bytes) : (i64) -> !llvm.ptr
    llvm.call @_mlir_memref_to_llvm_free(%p) : (!llvm.ptr) -> ()
    llvm.return
  }
}
