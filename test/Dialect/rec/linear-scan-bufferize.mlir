// RUN: seq-opt %s -one-shot-bufferize="bufferize-function-boundaries" -split-input-file | FileCheck %s

// rec.linear_scan bufferizes in place: its destinations are its results'
// buffers (here the caller's), and the destinations are never read, so
// nothing is copied into them first.
// CHECK-LABEL: func.func @into_arguments
// CHECK-SAME: (%[[A:.*]]: memref<?x?x4xf32{{.*}}>, %[[H0:.*]]: memref<?x4xf32{{.*}}>, %[[S:.*]]: memref<?x?x4xf32{{.*}}>, %[[F:.*]]: memref<?x4xf32{{.*}}>)
// CHECK-NOT: memref.copy
// CHECK-NOT: memref.alloc
// CHECK: rec.linear_scan ins(%[[A]], %[[A]], %[[H0]] : {{.*}}) outs(%[[S]], %[[F]] : {{.*}}){{$}}
// CHECK: return %[[S]], %[[F]]
func.func @into_arguments(%a: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>, %s: tensor<?x?x4xf32>,
                          %f: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>) {
  %hs, %hT = rec.linear_scan ins(%a, %a, %h0 : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x4xf32>)
                             outs(%s, %f : tensor<?x?x4xf32>, tensor<?x4xf32>)
                             -> tensor<?x?x4xf32>, tensor<?x4xf32>
  return %hs, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// Fresh destinations become fresh buffers.
// CHECK-LABEL: func.func @into_empty
// CHECK: %[[S:.*]] = memref.alloc(%{{.*}}, %{{.*}}) {{.*}}: memref<?x?x4xf32>
// CHECK: %[[F:.*]] = memref.alloc(%{{.*}}) {{.*}}: memref<?x4xf32>
// CHECK: rec.linear_scan ins({{.*}}) outs(%[[S]], %[[F]] : memref<?x?x4xf32>, memref<?x4xf32>)
func.func @into_empty(%a: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>, %B: index, %T: index)
    -> (tensor<?x?x4xf32>, tensor<?x4xf32>) {
  %s = tensor.empty(%B, %T) : tensor<?x?x4xf32>
  %f = tensor.empty(%B) : tensor<?x4xf32>
  %hs, %hT = rec.linear_scan ins(%a, %a, %h0 : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x4xf32>)
                             outs(%s, %f : tensor<?x?x4xf32>, tensor<?x4xf32>)
                             -> tensor<?x?x4xf32>, tensor<?x4xf32>
  return %hs, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}

// -----

// A reverse scan keeps its direction on buffers.
// CHECK-LABEL: func.func @reverse
// CHECK: rec.linear_scan reverse ins(
func.func @reverse(%a: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>, %s: tensor<?x?x4xf32>,
                   %f: tensor<?x4xf32>) -> (tensor<?x?x4xf32>, tensor<?x4xf32>) {
  %hs, %hT = rec.linear_scan reverse ins(%a, %a, %h0 : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x4xf32>)
                             outs(%s, %f : tensor<?x?x4xf32>, tensor<?x4xf32>)
                             -> tensor<?x?x4xf32>, tensor<?x4xf32>
  return %hs, %hT : tensor<?x?x4xf32>, tensor<?x4xf32>
}
