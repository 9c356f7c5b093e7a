//===- Parser.h - .seq recursive-descent parser ------------------*- C++ -*-===//
//
// Builds the AST of a .seq buffer. Syntax errors are reported through
// Diagnostics; the parser then skips to the end of the statement or
// declaration and goes on, so one run reports several independent errors.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_PARSER_H
#define SEQC_FRONTEND_PARSER_H

#include "seqc/Frontend/AST.h"
#include "seqc/Frontend/Diagnostics.h"

namespace seqc {

/// Parses the main buffer of `diags`' SourceMgr. Returns the module even when
/// errors were reported (check `diags.hadError()`).
Module parseModule(Diagnostics &diags);

} // namespace seqc

#endif
