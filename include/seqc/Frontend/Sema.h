//===- Sema.h - Semantic checks of a .seq module -----------------*- C++ -*-===//
//
// Resolves dims (with -D overrides), declarations, names and shapes, and
// enforces the step block's single-assignment rules (language.md sections 1-4).
// After a successful check every Expr carries its shape and every Name its
// binding; the interpreter and MLIRGen rely on that and check nothing again.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_SEMA_H
#define SEQC_FRONTEND_SEMA_H

#include "seqc/Frontend/AST.h"
#include "seqc/Frontend/Diagnostics.h"

#include <map>
#include <string>

namespace seqc {

/// `-DNAME=VALUE` overrides, applied to every model that declares the dim.
using DimOverrides = std::map<std::string, int64_t>;

/// Checks the whole module; returns true when no error was reported.
bool checkModule(Module &module, Diagnostics &diags, const DimOverrides &overrides);

/// The largest number of elements one value may have; guards every later stage
/// (interpreter, constants in IR) against absurd dims.
constexpr int64_t kMaxElements = int64_t(1) << 28;

int64_t numElements(const Shape &shape);

/// NumPy broadcasting of two shapes; false when they are incompatible.
bool broadcastShapes(const Shape &a, const Shape &b, Shape &result);

} // namespace seqc

#endif
