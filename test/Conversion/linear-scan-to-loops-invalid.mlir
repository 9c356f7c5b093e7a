// RUN: seq-opt %s -convert-linear-scan-to-loops -verify-diagnostics

func.func @on_tensors(%a: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>) {
  // expected-error @+1 {{'rec.linear_scan' op must be bufferized before convert-linear-scan-to-loops}}
  %hs, %hT = rec.linear_scan ins(%a, %a, %h0 : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x4xf32>)
                             outs(%a, %h0 : tensor<?x?x4xf32>, tensor<?x4xf32>)
                             -> tensor<?x?x4xf32>, tensor<?x4xf32>
  return
}
