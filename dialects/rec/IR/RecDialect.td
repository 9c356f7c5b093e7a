//===- RecDialect.td - The rec dialect ---------------------*- tablegen -*-===//
//
// The rec dialect holds the structure of recurrences and nothing else: the
// model (its inputs, params, states, outputs), the recurrence with its step
// region, and the few step operations upstream dialects lack. Arithmetic inside
// a step is upstream arith / math / linalg / tensor on ranked tensors.
//
//===----------------------------------------------------------------------===//
#ifndef REC_DIALECT
#define REC_DIALECT

include "mlir/IR/OpBase.td"

def Rec_Dialect : Dialect {
  let name = "rec";
  let cppNamespace = "::mlir::rec";
  let summary = "Gated recurrences and attention mixers as recurrences over time";
  let description = [{
    A `rec.model` is one `.seq` model: a function whose arguments are the
    per-step inputs (`tensor<?x?x...>`, batch and time first), the params and
    the initial states (`tensor<?x...>`, batch first), and whose results are
    the outputs and the final states, in the order of the kernel ABI. Its body
    holds a `rec.recurrence`, whose step region computes one time step of one
    batch row: the block arguments are the previous states and the step's
    inputs; `rec.yield` returns the new states and the step's outputs.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

class Rec_Op<string mnemonic, list<Trait> traits = []>
    : Op<Rec_Dialect, mnemonic, traits>;

#endif // REC_DIALECT
