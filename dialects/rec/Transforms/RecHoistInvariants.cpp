//===- RecHoistInvariants.cpp - Step-invariant work, done once per call ---===//
//
// Work on params alone has the same value at every step; done inside the step
// it costs B x T times what it needs to (Mamba's exp(A_log) doubled the
// exponentials of the whole kernel). MLIR's loop-invariant code motion does
// the moving; the recurrence only says which region is the loop body.
//
//===----------------------------------------------------------------------===//
#include "Passes.h"

#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir::rec {
#define GEN_PASS_DEF_RECHOISTINVARIANTS
#include "Passes.h.inc"

namespace {
struct RecHoistInvariantsPass : impl::RecHoistInvariantsBase<RecHoistInvariantsPass> {
  void runOnOperation() override {
    getOperation().walk([](RecurrenceOp op) {
      Region &step = op.getStep();
      moveLoopInvariantCode(
          {&step},
          [&](Value value, Region *) { return !step.isAncestor(value.getParentRegion()); },
          [](Operation *inner, Region *) {
            return isMemoryEffectFree(inner) && isSpeculatable(inner);
          },
          [&](Operation *inner, Region *) { inner->moveBefore(op); });
    });
  }
};
} // namespace
} // namespace mlir::rec
