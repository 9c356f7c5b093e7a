//===- GradientCheck.h - seqc check --grad --------------------------------===//
//
// The gradient check of language.md section 8: M_backward against central
// finite differences of the float64 interpreter, and the ABI of the
// backward entry points.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CHECK_GRADIENTCHECK_H
#define SEQC_CHECK_GRADIENTCHECK_H

#include "seqc/Check/KernelCheck.h"

namespace seqc {

/// seqc check --grad: compiles `model` with its backward entry points, runs
/// M_forward_tape and M_backward on drawn data with random cotangents, and
/// compares <u, J v> for a random direction v over each group of arguments
/// with central differences of the interpreter, within `limit` relative to
/// 1 + |<u, J v>|; then checks the backward's ABI. The report goes to
/// stdout, PASS or FAIL last. Returns the exit code.
int checkGradients(const Model &model, llvm::SourceMgr &sourceMgr, const CompileOptions &compile,
                   const RunOptions &run, double limit);

} // namespace seqc

#endif // SEQC_CHECK_GRADIENTCHECK_H
