//===- KernelCheck.h - seqc check and seqc run ----------------------------===//
//
// The two commands that execute a model: `seqc run` evaluates it with the
// float64 reference interpreter on drawn data; `seqc check` compiles it,
// runs the kernel on the same data, compares every output and final state
// with the interpreter under language.md section 6's tolerance, and checks
// the ABI's behaviours (error codes, T = 0, NULL initial and final states,
// two calls equal to one).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CHECK_KERNELCHECK_H
#define SEQC_CHECK_KERNELCHECK_H

#include "seqc/Compiler/Options.h"
#include "seqc/Frontend/AST.h"

#include "llvm/Support/SourceMgr.h"

#include <cstdint>
#include <string>

namespace seqc {

/// The data a run or a check draws.
struct RunOptions {
  int64_t B = 2, T = 16;
  uint64_t seed = 0;
};

/// seqc run: evaluates `model` on drawn data, prints a summary of every
/// output and final state to stdout, and with `saveDirectory` also writes
/// every array as NAME.npy there. Returns the exit code (errors on stderr).
int runReference(const Model &model, const RunOptions &run, llvm::StringRef saveDirectory,
                 llvm::StringRef inputName);

/// The tolerance of language.md section 6 for a kernel in `form`.
double checkTolerance(Form form);

/// seqc check: compiles `model` as `compile` says (to an object file), loads
/// it, runs it on drawn data and compares it with the interpreter; the
/// report goes to stdout, PASS or FAIL last. Returns the exit code.
int checkKernel(const Model &model, llvm::SourceMgr &sourceMgr, const CompileOptions &compile,
                const RunOptions &run);

} // namespace seqc

#endif // SEQC_CHECK_KERNELCHECK_H
