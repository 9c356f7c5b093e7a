//===- Interpreter.h - The float64 reference evaluator -----------*- C++ -*-===//
//
// Evaluates a checked model step by step in float64, exactly as language.md
// section 3 reads it. It shares the AST with the compiler but none of the MLIR
// path, so it is an independent oracle for every compiled form. Test data is
// drawn here too (from the `~` annotations), so that `seqc run` and `seqc check`
// see the same numbers for the same seed.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_INTERPRETER_H
#define SEQC_FRONTEND_INTERPRETER_H

#include "seqc/Frontend/AST.h"

#include "llvm/Support/Error.h"
#include <cstdint>
#include <vector>

namespace seqc {

/// A dense row-major float64 array.
struct Array {
  Shape shape;
  std::vector<double> data;
  Array() = default;
  explicit Array(Shape s, double fill = 0.0)
      : shape(std::move(s)), data(static_cast<size_t>(numElementsOf(shape)), fill) {}
  static int64_t numElementsOf(const Shape &s) {
    int64_t n = 1;
    for (int64_t d : s)
      n *= d;
    return n;
  }
};

/// Everything a model is run on: inputs [B, T, ...], params [...] and initial
/// states [B, ...], in declaration order.
struct ModelData {
  int64_t B = 0, T = 0;
  std::vector<Array> inputs, params, initialStates;
};

/// Fails when the arrays of a run at this B and T (inputs, outputs, states)
/// would exceed what the interpreter allows itself (2^28 values, 2 GiB);
/// drawData and interpret need this to have passed.
llvm::Error checkRunSize(const Model &model, int64_t B, int64_t T);

/// Draws inputs and params as their `~` annotations say (defaults: uniform in
/// [-1, 1]; for matrices uniform in +-1/sqrt(fan-in), fan-in being the last
/// axis), rounded to f32 so that f32 kernels see exactly the same numbers.
/// Initial states are the declared values.
ModelData drawData(const Model &model, int64_t B, int64_t T, uint64_t seed);

/// Outputs [B, T, ...] and final states [B, ...], in declaration order.
struct ModelResult {
  std::vector<Array> outputs, finalStates;
};

/// Runs the model sequentially; fails only on sizes checkRunSize refuses.
llvm::Expected<ModelResult> interpret(const Model &model, const ModelData &data);

/// Writes `array` as a NumPy .npy file (float64).
llvm::Error writeNpy(llvm::StringRef path, const Array &array);

} // namespace seqc

#endif
