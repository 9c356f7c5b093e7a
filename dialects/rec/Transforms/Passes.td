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

def RecHoistInvariants : Pass<"rec-hoist-invariants", "::mlir::rec::ModelOp"> {
  let summary = "moves work on params and constants alone out of the step";
  let description = [{
    A value of the step that depends on neither a state nor a step input
    (`-exp(A_log)` in Mamba, a transposed weight) is the same at every step:
    it is computed once, before the recurrence, instead of B x T times. Only
    pure, speculatable ops move (MLIR's loop-invariant code motion over the
    step region), so a recurrence that runs no step computes nothing wrong.
  }];
}

def RecHoistMatmuls : Pass<"rec-hoist-matmuls", "::mlir::rec::ModelOp"> {
  let summary = "turns per-step matvecs of step inputs by fixed matrices into one matmul";
  let description = [{
    A `linalg.matvec` in a step whose matrix comes from outside the step (a
    param, or work on params) and whose vector is a step input, starting
    from zero, is the same at every step but for the input: all B x T of
    them are one contraction `y[b, t, h] = sum_d x[b, t, d] w[d, h]` of the
    input sequence with the transposed matrix (a `linalg.generic`: a matmul
    of B*T rows). It runs before the recurrence, and its `[B, T, H]` result
    becomes a new step input that replaces the matvec. Run after `rec-hoist`, it turns the hoisted input
    projections of a cell (minGRU's `Wz @ x`) into one matmul each.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def RecToScan : Pass<"rec-to-scan", "::mlir::rec::ModelOp"> {
  let summary = "rewrites elementwise-affine recurrences into rec.scan";
  let description = [{
    A recurrence whose every state is updated as h = a * h + b, with a and b
    free of every state, becomes: a stateless recurrence that computes the
    sequences a and b; one `rec.scan` per state; and a stateless recurrence
    that computes the outputs from the updated states. Recurrences the
    analysis does not find scannable are left alone.

    With `streaming-when-expanding`, a recurrence whose coefficients would be
    expansions (broadcasts of smaller step data, as Mamba's [D, N] decay from
    a [D] step) is left alone too: materialised for all steps they would
    cost more memory traffic than a loop that streams over time and computes
    them in the step, which is how the CPU runs such a recurrence when its
    channels fill the cores.
  }];
  let options = [
    Option<"streamingWhenExpanding", "streaming-when-expanding", "bool", "false",
           "leave recurrences whose scan coefficients would be expansions">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

#endif // REC_TRANSFORMS_PASSES
