//===- RecurrenceLowering.h - rec ops of a model body to loops ------------===//
//
// Internal to the model lowering (seqc/Conversion/Utils/ModelLowering.h).
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_LIB_CONVERSION_UTILS_RECURRENCELOWERING_H
#define SEQC_LIB_CONVERSION_UTILS_RECURRENCELOWERING_H

#include "RecOps.h"

namespace seqc {

/// tensor.empty of `type`, with `dynamicSizes` for its dynamic axes in order.
mlir::Value emptyTensor(mlir::OpBuilder &b, mlir::Location loc, mlir::Type type,
                        mlir::ValueRange dynamicSizes);

/// Every rec.recurrence and rec.scan under `root` as loops over tensors.
void lowerRecurrenceOps(mlir::Operation *root);

} // namespace seqc

#endif // SEQC_LIB_CONVERSION_UTILS_RECURRENCELOWERING_H
