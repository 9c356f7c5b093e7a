//===- Passes.td - Rewrites of the rec dialect -------------*- tablegen -*-===//
//
// The rewrites that turn a recurrence into the form that parallelises it. Each
// reads the recurrence analysis (include/seqc/Analysis) and nothing else.
//
//===----------------------------------------------------------------------===//
#ifndef REC_TRANSFORMS_PASSES
#define REC_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def RecOutlineStateless : Pass<"rec-outline-stateless", "::mlir::rec::ModelOp"> {
  let summary = "outlines the state-free part of a step into a stateless recurrence";
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
    becomes a new step input that replaces the matvec. Run after
    `rec-outline-stateless`, it turns the outlined input projections of a
    cell (minGRU's `Wz @ x`) into one matmul each.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def RecToChunked : Pass<"rec-to-chunked", "::mlir::ModuleOp"> {
  let summary = "rewrites matrix states (outer products, the delta rule) and attention into chunked ops";
  let description = [{
    A state that `matchMatrixState` recognises (S' = D * S + A * B with A and
    B broadcasts of step values, D free of states and constant along the
    value axis, the new state read only by one contraction with a query:
    linear attention, RetNet, Mamba-2, GLA, the mLSTM's matrix memory)
    leaves its recurrence: a stateless recurrence computes the query, key,
    value and decay of every step in the canonical [H, K] / [H, V] layout,
    `rec.chunked` computes the reads and the final state, and the rest of
    the recurrence (the other states and the outputs) takes each step's
    read as an input. With a decay, the rewrite runs only when no decay of
    the call is negative or NaN (rec.chunked works on log decays, floored
    at -30 a step, so a decay of 0 forgets as it should); otherwise the
    original recurrence runs, after a call of `seqc_chunk_fallback_report()`,
    which the runtime prints to stderr when `SEQC_VERBOSE` is set.

    A state that follows the delta rule, S' = D * S + k (v - c * S^T w)^T
    with D and c one value per head (DeltaNet, Gated DeltaNet), leaves its
    recurrence the same way for a `rec.chunked_delta`, with c folded into
    w.

    A `rec.attention` whose query, key and value depend on no state and on
    no other attention (`matchAttention`) leaves its recurrence the same
    way: a stateless recurrence computes its keys and values (and its
    queries, unless the query is the same at every step: a learned query,
    cloned before the recurrence) with the heads flattened into [H, K] /
    [H, V], `rec.chunked_attention` computes every step's output, and the
    rest of the recurrence takes it as an input.
  }];
  let options = [
    Option<"chunkSize", "chunk-size", "int64_t", /*default=*/"64", "steps per chunk">,
    Option<"attentionOnly", "attention-only", "bool", /*default=*/"false",
           "take only attention, and leave matrix states in their recurrences "
           "(what --form auto does first)">,
    Option<"autoRule", "auto-rule", "bool", /*default=*/"false",
           "what --form auto takes on the CPU: the matrix states of cells whose "
           "other states are elementwise-affine, in chunks of their larger head "
           "axis (a power of two from 16 to chunk-size), chunked only for calls "
           "of at least 8 chunks">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect"];
}

def RecExpandChunked : Pass<"rec-expand-chunked", "::mlir::ModuleOp"> {
  let summary = "expands the chunked ops (rec.chunked, _delta, _attention) into loops over chunks";
  let description = [{
    Each `rec.chunked` becomes, on tensors: its sequences padded with
    identity steps to whole chunks and viewed as [B, T/C, C, ...]; a
    `rec.recurrence` over the chunks whose step computes, with
    `linalg.generic` contractions, the chunk's cumulative log decays b, the
    masked decayed scores Q K^T (factorised as (Q exp(b)) (K exp(-b))^T when
    no key's total log decay in the chunk is below -40, exact with one exp
    per (i, j, key) otherwise), the reads (scores times values plus the
    queries times the entering state) and the state leaving the chunk; and
    the reads trimmed back to T steps.

    Each `rec.chunked_delta` becomes the same kind of recurrence over
    chunks, whose step solves the chunk's corrections D = U - W' S0 by
    forward substitution of the unit lower-triangular (I + L) (the UT
    transform) and then computes the reads and the state leaving the chunk
    as contractions with D.

    Each `rec.chunked_attention` with per-step queries becomes an
    `scf.forall` over (row, query chunk, head) whose body runs the online
    softmax (running max, normaliser, weighted sum) over the key chunks the
    query chunk sees, masked by causality and the window. With a fixed
    query and no window, three recurrences over chunks compute every
    chunk's (max, normaliser, weighted sum), the carry entering each chunk,
    and each chunk's outputs from its carry.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def RecDeriveBackward : Pass<"rec-derive-backward", "::mlir::ModuleOp"> {
  let summary = "adds the models of each model's backward entry points";
  let description = [{
    Beside every model `M` (kind `forward`), adds the models of the entry
    points of language.md section 8: `M_forward_tape` (the forward that also
    writes the tape: every state after every step; the backward runs it
    when it is given no tape) and `M_backward` (the vector-Jacobian product
    of the whole call).

    The backward is itself a recurrence, running backwards in time
    (`rec.recurrence reverse`): its states are the cotangents of the
    model's states, its inputs the states before each step (from the tape),
    the step's inputs and the cotangents of its outputs; its step is the
    forward step followed by its vector-Jacobian product, one rule per op
    (StepAdjoint.cpp). Work on params alone is not repeated in it: it runs
    once before it, and its cotangents are summed over batch and time and
    taken through that work once after it. A projection `W @ x` of a step
    value by such a value does not form an outer product per step either:
    the adjoint yields both factors, and one contraction over batch and
    time gives the gradient.

    A model whose step holds an op without a gradient rule (attention, for
    now) gets no backward: the model is marked `rec.no_backward` with the
    reason, which seqc reports where a gradient is asked for.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
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

def RecToNewton : Pass<"rec-to-newton", "::mlir::rec::ModelOp"> {
  let summary = "rewrites recurrences into rec.newton, with the step's Jacobian";
  let description = [{
    Every recurrence with states becomes a `rec.newton`: the same step, which
    now also yields its Jacobian by the states, written by forward-mode
    differentiation of the step's ops in the structure the analysis finds
    (diagonal, block-diagonal, dense). Recurrences are left alone when their
    step holds `rec.attention` or an op without a derivative rule, when the
    Jacobian is dense with more than `max-dense` elements a side, or, with
    `structured-only`, when it is dense at all; with `skip-scannable`, also
    when the scan form applies (the recurrence is linear: what --form auto
    leaves streaming over time stays so).
  }];
  let options = [
    Option<"maxIters", "max-iters", "int64_t", "10",
           "linear solves before giving up and running sequentially">,
    Option<"tol", "tol", "double", "1e-5",
           "largest residual |h - f(h)| / (1 + |f(h)|) accepted as converged">,
    Option<"quasi", "quasi", "bool", "false",
           "use only the Jacobian's diagonal (quasi-DEER)">,
    Option<"guess", "guess", "std::string", "\"step\"",
           "first guess: 'step' (one step from the initial state) or 'zero'">,
    Option<"minLength", "min-length", "int64_t", "1",
           "sequences shorter than this run sequentially">,
    Option<"minThreadsPerRow", "min-threads-per-row", "int64_t", "0",
           "calls with fewer threads per batch row run sequentially (0: any)">,
    Option<"maxDense", "max-dense", "int64_t", "256",
           "the largest dense Jacobian side (in state elements) to solve">,
    Option<"structuredOnly", "structured-only", "bool", "false",
           "leave recurrences whose Jacobian is dense">,
    Option<"skipScannable", "skip-scannable", "bool", "false",
           "leave recurrences whose every state is elementwise-affine (the scan's)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect"];
}

def RecExpandNewton : Pass<"rec-expand-newton", "::mlir::ModuleOp"> {
  let summary = "expands rec.newton into the Newton iteration over scans";
  let description = [{
    Each `rec.newton` becomes, on tensors: the first guess; an `scf.while`
    whose every iteration evaluates the step and its Jacobian at all steps
    at once (a stateless `rec.recurrence`), measures the residual and, if it
    is above the tolerance, solves the linearised recurrence for the next
    guess (a `rec.scan` per state for a diagonal Jacobian, a sequential
    `rec.recurrence` over k x k blocks or dense matrices otherwise); and the
    sequential `rec.recurrence` that runs instead when the sequence is
    shorter than `min_length`, the call has fewer than `min_threads_per_row`
    threads per batch row (`seqc_num_threads()`), or the iteration has not
    converged. After each
    solve the kernel calls `seqc_newton_report(iterations, converged,
    residual)`, which the runtime prints to stderr when `SEQC_VERBOSE` is set.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect"];
}

#endif // REC_TRANSFORMS_PASSES
