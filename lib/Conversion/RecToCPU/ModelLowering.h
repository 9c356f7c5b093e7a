//===- ModelLowering.h - rec models to ABI entry points, for any target ---===//
//
// The part of convert-rec-to-cpu that convert-rec-to-gpu shares: a rec.model
// becomes an entry point that checks its arguments, wraps the caller's
// arrays as memrefs and runs the model's ops as loops over tensors. The two
// targets differ only in the entry's name, a leading stream argument and the
// runtime function that guards the call.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_LIB_CONVERSION_RECTOCPU_MODELLOWERING_H
#define SEQC_LIB_CONVERSION_RECTOCPU_MODELLOWERING_H

#include "RecOps.h"

namespace seqc {

struct EntryConvention {
  /// Appended to the model's name: "_forward" or "_forward_cuda".
  llvm::StringRef suffix;
  /// The runtime's guard: int guard([stream,] int (*thunk)(void *), void *args).
  llvm::StringRef guard;
  /// Whether the entry takes a stream (CUstream) before B and T.
  bool leadingStream;
};

/// Builds `convention.suffix`'s entry point for `model` beside it (the model
/// itself is left for the caller to erase).
void lowerModelToEntry(mlir::rec::ModelOp model, const EntryConvention &convention);

} // namespace seqc

#endif // SEQC_LIB_CONVERSION_RECTOCPU_MODELLOWERING_H
