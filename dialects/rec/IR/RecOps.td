//===- RecOps.td - Operations of the rec dialect -----------*- tablegen -*-===//
//
// rec.model, rec.recurrence and their terminators, and rec.attention, the one
// step operation with an implicit state of its own (the key/value history).
// rec.scan is the parallel-scan form; rec.linear_scan is its destination-
// passing twin that the CPU lowering bufferizes (on tensors, then on the
// caller's buffers). rec.newton is the Newton form of a nonlinear recurrence:
// the step together with its Jacobian; rec.chunked is the chunked form of a
// matrix state updated by decayed outer products.
//
//===----------------------------------------------------------------------===//
#ifndef REC_OPS
#define REC_OPS

include "RecDialect.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/FunctionInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.td"
include "mlir/IR/EnumAttr.td"

def Rec_ModelKind : I32EnumAttr<"ModelKind",
    "which of a model's kernel entry points a rec.model is", [
      I32EnumAttrCase<"Forward", 0, "forward">,
      I32EnumAttrCase<"ForwardTape", 1, "forward_tape">,
      I32EnumAttrCase<"Backward", 2, "backward">]> {
  let cppNamespace = "::mlir::rec";
}

def Rec_ModelOp : Rec_Op<"model", [
    FunctionOpInterface, IsolatedFromAbove, SingleBlock,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>]> {
  let summary = "one .seq model, shaped like its kernel's ABI";
  let description = [{
    The arguments are, in order, the batch size B and the length T (`index`),
    the inputs (`tensor<?x?x...xf32>`: batch, time, the declared shape), the
    params (the declared static shape) and the initial states
    (`tensor<?x...xf32>`: batch, the declared shape), as in the kernel's
    `M_forward(B, T, ...)`. Inputs are B x T and states B long. The
    results are the outputs (`tensor<?x?x...xf32>`) and then the final states
    (`tensor<?x...xf32>`). `input_names`, `param_names`, `state_names` and
    `output_names` name them; `state_init` holds each state's declared initial
    value (used when the caller passes no initial state); `dims` records the
    dims the model was compiled with.

    `kind` says which entry point of the user's model this is (language.md
    section 8); the names are always those of the user's model. `forward`
    (the default) is `M_forward`. `forward_tape` is `M_forward_tape`: the
    results are followed by the tape, one `tensor<?x?x...>` per state (its
    value after every step); `M_backward` runs it when it is given no tape.
    With `tape_interval` = C (on all three kinds of a model), the tape holds
    a state every C steps instead, ceil(T/C) of them: the state entering
    steps 0, C, 2C, ...; the backward recomputes the states in between.
    With `saved_projections` = N, N more parts follow the states' on the
    tape (results of `forward_tape`, arguments of `backward` before the
    cotangents): the values of the step's projections of its inputs by
    params (`W @ x`) at every step, which the backward reads instead of
    recomputing them.
    `backward` is `M_backward`:
    its arguments are B, T, the inputs, params and initial states, the tape,
    the cotangents of the outputs and of the final states; its results the
    gradients of the inputs, the params and the initial states.

    ```mlir
    rec.model @decay(%B: index, %T: index, %x: tensor<?x?x4xf32>, %h0: tensor<?x4xf32>)
        -> (tensor<?x?x4xf32>, tensor<?x4xf32>)
        attributes {input_names = ["x"], param_names = [], state_names = ["h"],
                    output_names = ["y"], state_init = array<f64: 0.0>} {
      ...
      rec.return %y, %h : tensor<?x?x4xf32>, tensor<?x4xf32>
    }
    ```
  }];
  let arguments = (ins
    SymbolNameAttr:$sym_name,
    TypeAttrOf<FunctionType>:$function_type,
    OptionalAttr<DictArrayAttr>:$arg_attrs,
    OptionalAttr<DictArrayAttr>:$res_attrs,
    StrArrayAttr:$input_names,
    StrArrayAttr:$param_names,
    StrArrayAttr:$state_names,
    StrArrayAttr:$output_names,
    DenseF64ArrayAttr:$state_init,
    OptionalAttr<DictionaryAttr>:$dims,
    OptionalAttr<Rec_ModelKind>:$kind,
    OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$tape_interval,
    OptionalAttr<ConfinedAttr<I64Attr, [IntNonNegative]>>:$saved_projections
  );
  let regions = (region SizedRegion<1>:$body);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// FunctionOpInterface / CallableOpInterface.
    ::llvm::ArrayRef<::mlir::Type> getArgumentTypes() { return getFunctionType().getInputs(); }
    ::llvm::ArrayRef<::mlir::Type> getResultTypes() { return getFunctionType().getResults(); }
    ::mlir::Region *getCallableRegion() { return &getBody(); }

    /// Entry arguments before the inputs: the batch size and the length.
    static constexpr unsigned kNumSizeArgs = 2;
    ::mlir::Value getBatchSize() { return getBody().getArgument(0); }
    ::mlir::Value getLength() { return getBody().getArgument(1); }
    unsigned getNumInputs() { return getInputNames().size(); }
    unsigned getNumParams() { return getParamNames().size(); }
    unsigned getNumStates() { return getStateNames().size(); }
    unsigned getNumOutputs() { return getOutputNames().size(); }
    /// The entry point this model is (`forward` when `kind` is absent).
    ::mlir::rec::ModelKind getModelKind() {
      return getKind().value_or(::mlir::rec::ModelKind::Forward);
    }
    /// Projections saved on the tape after the states.
    unsigned getNumSavedProjections() { return getSavedProjections().value_or(0); }
    /// The tape's parts (one per state, then the saved projections) as this
    /// model writes them (forward_tape) or reads them (backward); none for
    /// a forward model.
    ::llvm::ArrayRef<::mlir::Type> getTapeTypes();
  }];
}

def Rec_ReturnOp : Rec_Op<"return", [
    Pure, HasParent<"ModelOp">, ReturnLike, Terminator]> {
  let summary = "returns a model's outputs and final states";
  let arguments = (ins Variadic<AnyRankedTensor>:$operands);
  let assemblyFormat = "attr-dict ($operands^ `:` type($operands))?";
  let hasVerifier = 1;
}

def Rec_RecurrenceOp : Rec_Op<"recurrence", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<OpAsmOpInterface,
                              ["getAsmBlockArgumentNames", "getAsmResultNames"]>,
    SingleBlockImplicitTerminator<"YieldOp">,
    RecursiveMemoryEffects]> {
  let summary = "a step region applied over time, for every batch row";
  let description = [{
    For every batch row b < `batch` and for t = 0 .. `length`-1 in order,
    runs the step region with the states of step t-1 (the `inits` for t = 0)
    and the inputs of step t, sliced to their per-step shapes. The sizes are
    explicit because a model may have no inputs (nothing else would say how
    long to run) and no states; `inits` must be `batch` long and `inputs`
    `batch` x `length`. The region's block arguments are the
    states (each `inits` type without its batch axis) followed by the step
    inputs (each `inputs` type without its batch and time axes). `rec.yield`
    returns the new states, then the step's outputs.

    The results are the final states (typed as `inits`), then one sequence per
    yielded output, `tensor<?x?x...>` (batch, time, the yielded shape). Values
    defined above (the model's params) may be used inside the step.

    With `reverse`, the steps run from t = `length`-1 down to 0 (the adjoint
    of a recurrence runs backwards in time); outputs are still indexed by t,
    and the final states are those after step 0.

    ```mlir
    %hT, %ys = rec.recurrence batch %B length %T inits(%h0 : tensor<?x4xf32>)
        inputs(%xs : tensor<?x?x4xf32>) -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
    ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
      %hn = arith.addf %h, %x : tensor<4xf32>
      rec.yield %hn, %hn : tensor<4xf32>, tensor<4xf32>
    }
    ```
  }];
  let arguments = (ins Index:$batch, Index:$length,
                       Variadic<AnyRankedTensor>:$inits,
                       Variadic<AnyRankedTensor>:$inputs,
                       UnitAttr:$reverse);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$step);
  let assemblyFormat = [{
    `batch` $batch `length` $length
    (`inits` `(` $inits^ `:` type($inits) `)`)?
    (`inputs` `(` $inputs^ `:` type($inputs) `)`)?
    `->` `(` type($results) `)` $step attr-dict
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let hasCanonicalizer = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    OpBuilder<(ins "::mlir::TypeRange":$resultTypes, "::mlir::Value":$batch,
                   "::mlir::Value":$length, "::mlir::ValueRange":$inits,
                   "::mlir::ValueRange":$inputs)>
  ];
  let extraClassDeclaration = [{
    ::mlir::Block &getBody() { return getStep().front(); }
    unsigned getNumStates() { return getInits().size(); }
    /// The results that are output sequences (after the final states).
    ::mlir::ResultRange getOutputSequences() {
      return getResults().drop_front(getNumStates());
    }
    ::mlir::ResultRange getFinalStates() {
      return getResults().take_front(getNumStates());
    }
  }];
}

def Rec_YieldOp : Rec_Op<"yield", [
    Pure, ParentOneOf<["RecurrenceOp", "NewtonOp"]>, ReturnLike, Terminator]> {
  let summary = "ends a step: the new states, then the step's outputs";
  let arguments = (ins Variadic<AnyRankedTensor>:$operands);
  let builders = [OpBuilder<(ins), [{ /* nothing to yield */ }]>];
  let assemblyFormat = "attr-dict ($operands^ `:` type($operands))?";
}

def Rec_JacobianStructure : I32EnumAttr<"JacobianStructure",
    "the structure of a step's Jacobian with respect to its states", [
      I32EnumAttrCase<"Diagonal", 0, "diagonal">,
      I32EnumAttrCase<"BlockDiagonal", 1, "block_diagonal">,
      I32EnumAttrCase<"Dense", 2, "dense">]> {
  let cppNamespace = "::mlir::rec";
}

def Rec_NewtonGuess : I32EnumAttr<"NewtonGuess",
    "the first guess of the Newton form's state sequence", [
      I32EnumAttrCase<"Step", 0, "step">,
      I32EnumAttrCase<"Zero", 1, "zero">]> {
  let cppNamespace = "::mlir::rec";
}

def Rec_NewtonOp : Rec_Op<"newton", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmBlockArgumentNames"]>,
    SingleBlockImplicitTerminator<"YieldOp">,
    RecursiveMemoryEffects]> {
  let summary = "a nonlinear recurrence solved for all steps at once by Newton's method";
  let description = [{
    The same recurrence as `rec.recurrence` (same operands, results and step
    arguments), h[t] = f(h[t-1], x[t]), but solved as DEER and ParaRNN do:
    from a guess of the whole state sequence, each iteration evaluates f and
    its Jacobian J[t] = df/dh at every step in parallel and solves the
    linearised recurrence h[t] = J[t] h[t-1] + (f(h[t-1]) - J[t] h[t-1]),
    itself a parallel scan, for the next guess. It stops when the largest
    residual |h[t] - f(h[t-1])| / (1 + |f(h[t-1])|) is below `tol`; after
    `max_iters` solves without converging (or on a residual that is not
    finite), the recurrence runs sequentially instead. Sequences shorter than
    `min_length` run sequentially from the start, and so do calls with
    fewer than `min_threads_per_row` threads per batch row (the runtime's
    `seqc_num_threads()`; 0, the default, does not ask): the iteration does
    several times the sequential work, and pays only where the sequential
    loop leaves threads idle.

    The step yields the new states, the step's outputs and then the
    Jacobian of the new states with respect to the old ones, in the shape
    `jacobian` names:
    - `diagonal`: one tensor per state, of the state's type: the derivative
      of each element of the new state by the same element of the old one
      (no element depends on any other element or state).
    - `block_diagonal`: all k states have one type, and element e of every
      new state depends on element e of the old states only: k * k tensors
      of that type, row-major, entry (i, j) = d new_i[e] / d old_j[e].
    - `dense`: one `tensor<NxNxf32>`, N the total number of state elements
      (the states flattened and concatenated in order): entry (r, c) =
      d new[r] / d old[c].

    With `quasi`, the yielded Jacobian is the diagonal of the true one (the
    quasi-DEER method): each iteration is cheaper and more stable on chaotic
    cells, but converges linearly rather than quadratically. `guess` is the
    first guess: `step` applies the step once from the initial state at every
    t (as ParaRNN does), `zero` starts from zeros.

    ```mlir
    %hT, %ys = rec.newton batch %B length %T inits(%h0 : tensor<?x4xf32>)
        inputs(%xs : tensor<?x?x4xf32>) jacobian diagonal
        -> (tensor<?x4xf32>, tensor<?x?x4xf32>) {
    ^bb0(%h: tensor<4xf32>, %x: tensor<4xf32>):
      %s = arith.addf %h, %x : tensor<4xf32>
      %hn = math.tanh %s : tensor<4xf32>
      %sq = arith.mulf %hn, %hn : tensor<4xf32>
      %dh = arith.subf %one, %sq : tensor<4xf32>
      rec.yield %hn, %hn, %dh : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
    } {max_iters = 8 : i64, tol = 1.0e-05 : f64}
    ```
  }];
  let arguments = (ins Index:$batch, Index:$length,
                       Variadic<AnyRankedTensor>:$inits,
                       Variadic<AnyRankedTensor>:$inputs,
                       Rec_JacobianStructure:$jacobian,
                       UnitAttr:$quasi,
                       ConfinedAttr<I64Attr, [IntPositive]>:$max_iters,
                       F64Attr:$tol,
                       DefaultValuedAttr<Rec_NewtonGuess, "::mlir::rec::NewtonGuess::Step">:$guess,
                       DefaultValuedAttr<I64Attr, "1">:$min_length,
                       DefaultValuedAttr<I64Attr, "0">:$min_threads_per_row);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region SizedRegion<1>:$step);
  let assemblyFormat = [{
    `batch` $batch `length` $length
    (`inits` `(` $inits^ `:` type($inits) `)`)?
    (`inputs` `(` $inputs^ `:` type($inputs) `)`)?
    `jacobian` $jacobian (`quasi` $quasi^)? (`guess` $guess^)?
    `->` `(` type($results) `)` $step attr-dict
  }];
  let hasRegionVerifier = 1;
  let skipDefaultBuilders = 1;
  let builders = [
    OpBuilder<(ins "::mlir::TypeRange":$resultTypes, "::mlir::Value":$batch,
                   "::mlir::Value":$length, "::mlir::ValueRange":$inits,
                   "::mlir::ValueRange":$inputs, "::mlir::rec::JacobianStructure":$jacobian,
                   "int64_t":$maxIters, "double":$tol)>
  ];
  let extraClassDeclaration = [{
    ::mlir::Block &getBody() { return getStep().front(); }
    unsigned getNumStates() { return getInits().size(); }
    unsigned getNumOutputs() { return getNumResults() - getNumStates(); }
    /// How many values after the states and outputs the step yields for
    /// the Jacobian, given the states' types.
    unsigned getNumJacobianParts();
    ::mlir::ResultRange getFinalStates() {
      return getResults().take_front(getNumStates());
    }
    ::mlir::ResultRange getOutputSequences() {
      return getResults().drop_front(getNumStates());
    }
  }];
}

def Rec_AttentionOp : Rec_Op<"attention", [HasParent<"RecurrenceOp">]> {
  let summary = "causal softmax attention over the steps so far";
  let description = [{
    `%o = rec.attention %q, %k, %v` inside a step computes
    o[t] = sum over i <= t, i > t - window of softmax_i(scale * q[t] . k[i]) v[i].
    q and k are `tensor<...xDk>`, v is `tensor<...xDv>` with the same leading
    (head) axes, and the result is `tensor<...xDv>`. `window = 0` means
    unbounded. Its state, the key/value history of the batch row, is implicit:
    it starts empty at every call of the kernel and is not among the model's
    states. It is not pure: each evaluation appends to the history.
  }];
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k, AnyRankedTensor:$v,
                       F64Attr:$scale, DefaultValuedAttr<I64Attr, "0">:$window);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v attr-dict `:` type($q) `,` type($k) `,` type($v) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Rec_ScanOp : Rec_Op<"scan", [Pure, AllTypesMatch<["coefficients", "offsets", "states"]>,
    AllTypesMatch<["init", "final_state"]>,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "the elementwise affine scan h[t] = a[t] * h[t-1] + b[t] over time";
  let description = [{
    For every batch row and every element, computes
    h[t] = a[t] * h[t-1] + b[t] for t = 0 .. T-1, with h[-1] = `init`. The
    combine (a, b) o (a', b') = (a a', a' b + b') is associative, which is what
    lets a lowering split time across threads or GPU blocks. `coefficients`
    and `offsets` are `tensor<BxTx...>`; `init` and the final state drop the
    time axis. Results: every state h[0..T-1] (typed as the coefficients),
    then h[T-1] (h[-1] when T = 0).

    With `reverse`, time runs backwards: h[t] = a[t] * h[t+1] + b[t] for
    t = T-1 down to 0, with h[T] = `init`, and the final state is h[0]. The
    adjoint of a scan is one (g[t] = a[t+1] g[t+1] + dL/dh[t]), and reading
    the sequences backwards costs nothing that copying them reversed would
    not cost more.

    ```mlir
    %hs, %hT = rec.scan %a, %b, init %h0 : tensor<?x?x4xf32>, tensor<?x4xf32>
    %gs, %g0 = rec.scan reverse %a, %b, init %g : tensor<?x?x4xf32>, tensor<?x4xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$coefficients, AnyRankedTensor:$offsets,
                       AnyRankedTensor:$init, UnitAttr:$reverse);
  let results = (outs AnyRankedTensor:$states, AnyRankedTensor:$final_state);
  let assemblyFormat = [{
    (`reverse` $reverse^)? $coefficients `,` $offsets `,` `init` $init attr-dict `:`
      type($coefficients) `,` type($init)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$coefficients, "::mlir::Value":$offsets,
                   "::mlir::Value":$init, CArg<"bool", "false">:$reverse), [{
      build($_builder, $_state, coefficients.getType(), init.getType(), coefficients,
            offsets, init, reverse);
    }]>
  ];
  let hasVerifier = 1;
}

def Rec_LinearScanOp : Rec_Op<"linear_scan", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<BufferizableOpInterface,
        ["bufferizesToMemoryRead", "bufferizesToMemoryWrite", "getAliasingValues",
         "bufferize"]>]> {
  let summary = "destination-passing twin of rec.scan, on tensors or buffers";
  let description = [{
    The same recurrence as `rec.scan`, h[t] = a[t] * h[t-1] + b[t] with
    h[-1] = `init`, written into `states` (every h[t]) and `final_state`
    (h[T-1], or `init` when T = 0); with `reverse`, h[t] = a[t] * h[t+1] +
    b[t] from h[T] = `init`, the final state h[0]. On tensors it returns the two filled
    destinations; One-Shot Bufferize turns it into the form on memrefs,
    which has no results and writes into its destinations (the caller's
    output arrays, when the states are a model output). The lowering to
    loops (`convert-linear-scan-to-loops`) happens on buffers, where it can
    compute in place and split time across threads.

    ```mlir
    %hs, %hT = rec.linear_scan ins(%a, %b, %h0 : tensor<?x?x4xf32>, tensor<?x?x4xf32>,
                                   tensor<?x4xf32>)
                               outs(%e, %f : tensor<?x?x4xf32>, tensor<?x4xf32>)
                               -> tensor<?x?x4xf32>, tensor<?x4xf32>
    rec.linear_scan ins(%a, %b, %h0 : memref<?x?x4xf32>, memref<?x?x4xf32>, memref<?x4xf32>)
                    outs(%hs, %hT : memref<?x?x4xf32>, memref<?x4xf32>)
    ```
  }];
  let arguments = (ins AnyShaped:$coefficients, AnyShaped:$offsets, AnyShaped:$init,
                       AnyShaped:$states, AnyShaped:$final_state, UnitAttr:$reverse);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    (`reverse` $reverse^)? `ins` `(` $coefficients `,` $offsets `,` $init `:` type($coefficients) `,`
      type($offsets) `,` type($init) `)`
    `outs` `(` $states `,` $final_state `:` type($states) `,` type($final_state) `)`
    attr-dict (`->` type($results)^)?
  }];
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return ::mlir::MutableOperandRange(getOperation(), /*start=*/3, /*length=*/2);
    }
  }];
  let hasVerifier = 1;
}

def Rec_ChunkedOp : Rec_Op<"chunked", [Pure,
    AllTypesMatch<["queries", "keys", "log_decays"]>, AllTypesMatch<["values", "reads"]>,
    AllTypesMatch<["init", "final_state"]>,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "a decayed outer-product matrix state read by queries, in chunks of time";
  let description = [{
    For every batch row b and head h, the matrix state
    S[t] = diag(exp(g[t])) S[t-1] + k[t] v[t]^T (K x V, S[-1] = `init`) read
    as r[t] = S[t]^T q[t]: linear attention (g = 0), RetNet, Mamba-2 and
    the mLSTM (g the same for every key of a head), GLA (g per key). The
    operands are canonical: `queries`, `keys` and `log_decays` are
    `tensor<B x T x H x K>`, `values` `tensor<B x T x H x V>`, `init`
    `tensor<B x H x K x V>`; `rec-to-chunked` brings a cell's state into this
    layout (heads flattened into H, the key axis before the value axis).
    Results: the reads r (typed as `values`), then S[T-1] (`init` when T = 0).

    The op says what is computed, not how; `rec-expand-chunked` writes it
    by chunks of `chunk_size` steps: inside a chunk, masked
    (Q K^T with the decays between steps) V plus the queries times the state
    entering the chunk; across chunks, one state update per chunk. Decays
    are combined as sums of logs, so long products of gates do not
    underflow.

    ```mlir
    %r, %sT = rec.chunked %q, %k, %v, log_decays %g, init %s0 {chunk_size = 64 : i64}
        : tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x4x16x16xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$queries, AnyRankedTensor:$keys,
                       AnyRankedTensor:$values, AnyRankedTensor:$log_decays,
                       AnyRankedTensor:$init, ConfinedAttr<I64Attr, [IntPositive]>:$chunk_size);
  let results = (outs AnyRankedTensor:$reads, AnyRankedTensor:$final_state);
  let assemblyFormat = [{
    $queries `,` $keys `,` $values `,` `log_decays` $log_decays `,` `init` $init attr-dict
    `:` type($queries) `,` type($values) `,` type($init)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$queries, "::mlir::Value":$keys, "::mlir::Value":$values,
                   "::mlir::Value":$log_decays, "::mlir::Value":$init, "int64_t":$chunkSize), [{
      build($_builder, $_state, values.getType(), init.getType(), queries, keys, values,
            log_decays, init, $_builder.getI64IntegerAttr(chunkSize));
    }]>
  ];
  let hasVerifier = 1;
}

def Rec_ChunkedDeltaOp : Rec_Op<"chunked_delta", [Pure,
    AllTypesMatch<["queries", "keys", "correction_keys", "log_decays"]>,
    AllTypesMatch<["values", "reads"]>, AllTypesMatch<["init", "final_state"]>,
    DeclareOpInterfaceMethods<OpAsmOpInterface, ["getAsmResultNames"]>]> {
  let summary = "a matrix state updated by the delta rule and read by queries, in chunks of time";
  let description = [{
    For every batch row b and head h, the matrix state
    S[t] = exp(g[t]) S[t-1] + k[t] (v[t] - S[t-1]^T w[t])^T (K x V,
    S[-1] = `init`) read as r[t] = S[t]^T q[t]. DeltaNet's
    S' = S + beta k (v - S^T k)^T has keys beta k, w = k and g = 0; Gated
    DeltaNet's S' = alpha S + beta k (v - alpha S^T k)^T has keys beta k,
    w = alpha k and g = log alpha. `g` is one log decay per head, repeated
    along K. The operands are canonical, as for `rec.chunked`: `queries`, `keys`,
    `correction_keys` (w) and `log_decays` are `tensor<B x T x H x K>`,
    `values` `tensor<B x T x H x V>`, `init` `tensor<B x H x K x V>`.
    Results: the reads r (typed as `values`), then S[T-1].

    `rec-expand-chunked` writes it by chunks of `chunk_size` steps with the
    WY / UT form of the chunk's updates: the corrections of a chunk solve a
    unit lower-triangular system (I + L) D = V - diag(exp(g_prev)) W S0,
    L[t, i] = exp(g[t-1] - g[i]) w[t] . k[i] for i < t, by forward
    substitution; the reads and the state leaving the chunk are then
    matrix products with D.

    ```mlir
    %r, %sT = rec.chunked_delta %q, %k, %w, %v, log_decays %g, init %s0 {chunk_size = 64 : i64}
        : tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x4x16x16xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$queries, AnyRankedTensor:$keys,
                       AnyRankedTensor:$correction_keys, AnyRankedTensor:$values,
                       AnyRankedTensor:$log_decays, AnyRankedTensor:$init,
                       ConfinedAttr<I64Attr, [IntPositive]>:$chunk_size);
  let results = (outs AnyRankedTensor:$reads, AnyRankedTensor:$final_state);
  let assemblyFormat = [{
    $queries `,` $keys `,` $correction_keys `,` $values `,` `log_decays` $log_decays `,`
    `init` $init attr-dict `:` type($queries) `,` type($values) `,` type($init)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$queries, "::mlir::Value":$keys,
                   "::mlir::Value":$correction_keys, "::mlir::Value":$values,
                   "::mlir::Value":$log_decays, "::mlir::Value":$init, "int64_t":$chunkSize), [{
      build($_builder, $_state, values.getType(), init.getType(), queries, keys, correction_keys,
            values, log_decays, init, $_builder.getI64IntegerAttr(chunkSize));
    }]>
  ];
  let hasVerifier = 1;
}

def Rec_ChunkedAttentionOp : Rec_Op<"chunked_attention", [Pure,
    AllTypesMatch<["values", "outputs"]>]> {
  let summary = "causal softmax attention over whole sequences, in chunks of time";
  let description = [{
    For every batch row b and head h,
    o[t] = sum over i <= t, i > t - window of softmax_i(scale * q[t] . k[i]) v[i]
    (`window = 0`: unbounded), the meaning of `rec.attention` for all steps
    at once. `keys` are `tensor<B x T x H x K>`, `values` and the result
    `tensor<B x T x H x V>`; `queries` are either per step (typed as
    `keys`) or one fixed query per head, `tensor<H x K>` (a learned query),
    for which the attention is a prefix scan over (running max,
    normaliser, weighted sum). `rec-to-chunked` brings a step's attention
    into this layout (heads flattened into H).

    `rec-expand-chunked` writes it by chunks of `chunk_size` steps: with
    per-step queries, each (row, query chunk, head) runs the online softmax
    over the key chunks it sees (the FlashAttention tiling); with a fixed
    query and no window, each chunk is summarised in parallel, the
    summaries are combined along the chunks, and each chunk finishes its
    own prefix from the carry entering it.

    ```mlir
    %o = rec.chunked_attention %q, %k, %v {scale = 0.25 : f64, window = 0 : i64,
                                           chunk_size = 64 : i64}
        : tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$queries, AnyRankedTensor:$keys,
                       AnyRankedTensor:$values, F64Attr:$scale,
                       DefaultValuedAttr<I64Attr, "0">:$window,
                       ConfinedAttr<I64Attr, [IntPositive]>:$chunk_size);
  let results = (outs AnyRankedTensor:$outputs);
  let assemblyFormat = [{
    $queries `,` $keys `,` $values attr-dict `:` type($queries) `,` type($keys) `,` type($values)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$queries, "::mlir::Value":$keys, "::mlir::Value":$values,
                   "double":$scale, "int64_t":$window, "int64_t":$chunkSize), [{
      build($_builder, $_state, values.getType(), queries, keys, values,
            $_builder.getF64FloatAttr(scale), $_builder.getI64IntegerAttr(window),
            $_builder.getI64IntegerAttr(chunkSize));
    }]>
  ];
  let extraClassDeclaration = [{
    /// True when the queries are one per head, the same at every step.
    bool hasFixedQuery() {
      return ::llvm::cast<::mlir::RankedTensorType>(getQueries().getType()).getRank() == 2;
    }
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// What a kernel asks of its runtime at call time
//===----------------------------------------------------------------------===//
// The forms decide some things only when a call runs (the Newton form's
// --form auto rule reads the thread count) and say what they decided (under
// SEQC_VERBOSE). These ops say so without naming a runtime: each target's
// conversion (convert-rec-to-cpu, convert-rec-to-gpu) calls its own runtime
// (include/seqc/Runtime/seqc_abi.h).

def Rec_ThreadCountOp : Rec_Op<"thread_count", [MemoryEffects<[MemRead]>]> {
  let summary = "the threads the kernel's parallel loops can use in this call";
  let description = [{
    On the CPU the runtime's thread limit (`SEQC_NUM_THREADS`, or the online
    cores); on the GPU the threads the device holds resident (SMs x threads
    per SM). It reads the process's environment, so it is not folded.

    ```mlir
    %threads = rec.thread_count : i64
    ```
  }];
  let results = (outs I64:$count);
  let assemblyFormat = "attr-dict `:` type($count)";
}

def Rec_NewtonReportOp : Rec_Op<"newton_report", [MemoryEffects<[MemWrite]>]> {
  let summary = "says how a Newton solve of this call ended";
  let description = [{
    After each Newton iteration loop of `rec-expand-newton`: the linear
    solves it took, whether it converged (else the recurrence has run
    sequentially) and its last residual. The runtime prints it to stderr
    under `SEQC_VERBOSE`; it is information, never an error.

    ```mlir
    rec.newton_report %iterations, %converged, %residual
    ```
  }];
  let arguments = (ins Index:$iterations, I1:$converged, F32:$residual);
  let assemblyFormat = "$iterations `,` $converged `,` $residual attr-dict";
}

def Rec_ChunkFallbackReportOp : Rec_Op<"chunk_fallback_report", [MemoryEffects<[MemWrite]>]> {
  let summary = "says that a call of the chunked form ran its recurrence step by step";
  let description = [{
    Emitted by `rec-to-chunked` on the path a call takes when one of its
    decays is negative or NaN (the chunked form works on log decays). The
    runtime prints it to stderr under `SEQC_VERBOSE`.

    ```mlir
    rec.chunk_fallback_report
    ```
  }];
  let assemblyFormat = "attr-dict";
}

#endif // REC_OPS
