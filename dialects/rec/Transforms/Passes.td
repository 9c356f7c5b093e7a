//===- Passes.td - Rewrites of the rec dialect -------------*- tablegen -*-===//
//
// The rewrites that turn a recurrence into the form that parallelises it. Each
// reads the recurrence analysis (include/seqc/Analysis) and nothing else.
//
//===----------------------------------------------------------------------===//
#ifndef REC_TRANSFORMS_PASSES
#define REC_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def RecHoist : Pass<"rec-hoist", "::mlir::rec::ModelOp"> {
  let summary = "moves the state-free work of a step into a time-parallel recurrence";
  let description = [{
    Every value of a step that depends on the step's inputs but on no state,
    and that the state-dependent part uses, is computed for all B x T steps
    at once by a new stateless `rec.recurrence` before the original one (a
    stateless recurrence has no dependence between steps, so the lowering
    runs it in parallel over batch and time); the original recurrence reads
    it as a per-step input. Values that depend only on params and constants
    stay in the step.
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

def RecToScan : Pass<"rec-to-scan", "::mlir::rec::ModelOp"> {
  let summary = "rewrites elementwise-affine recurrences into rec.scan";
  let description = [{
    A recurrence whose every state is updated as h = a * h + b, with a and b
    free of every state, becomes: a stateless recurrence that computes the
    sequences a and b; one `rec.scan` per state; and a stateless recurrence
    that computes the outputs from the updated states. Recurrences the
    analysis does not find scannable are left alone.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

#endif // REC_TRANSFORMS_PASSES
