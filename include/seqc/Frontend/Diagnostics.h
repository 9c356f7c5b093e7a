//===- Diagnostics.h - Front-end error reporting -----------------*- C++ -*-===//
//
// Every front-end error goes through here so that all of them share one format,
// `FILE:LINE:COL: error: MESSAGE` with the source line and a caret (LLVM's
// SourceMgr does the rendering), and so that the driver can tell whether any
// error was reported before writing output.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_DIAGNOSTICS_H
#define SEQC_FRONTEND_DIAGNOSTICS_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/SourceMgr.h"

namespace seqc {

class Diagnostics {
public:
  explicit Diagnostics(llvm::SourceMgr &sourceMgr) : sourceMgr(sourceMgr) {}

  void error(llvm::SMLoc loc, const llvm::Twine &message) {
    ++numErrors;
    if (numErrors <= maxErrors)
      sourceMgr.PrintMessage(loc, llvm::SourceMgr::DK_Error, message);
  }
  void note(llvm::SMLoc loc, const llvm::Twine &message) {
    if (numErrors <= maxErrors)
      sourceMgr.PrintMessage(loc, llvm::SourceMgr::DK_Note, message);
  }
  unsigned errorCount() const { return numErrors; }
  bool hadError() const { return numErrors != 0; }
  llvm::SourceMgr &getSourceMgr() { return sourceMgr; }

  /// Past this many errors the rest are counted but not printed: a cascade
  /// helps nobody.
  static constexpr unsigned maxErrors = 20;

private:
  llvm::SourceMgr &sourceMgr;
  unsigned numErrors = 0;
};

} // namespace seqc

#endif
