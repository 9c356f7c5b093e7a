//===- MLIRGen.cpp - AST to the rec dialect -------------------------------===//
//
// Sema has checked every shape, so nothing here can fail on user input; what
// it builds is verified by the caller. Contractions use named linalg ops where
// one fits (dot, matvec, vecmat, matmul) so later passes can match them, and
// linalg.generic otherwise (einsum, batched matmul, outer).
//
//===----------------------------------------------------------------------===//
#include "seqc/Frontend/MLIRGen.h"
#include "RecOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include <map>

using namespace seqc;
using namespace mlir;

void seqc::loadDialects(MLIRContext &context) {
  context.loadDialect<rec::RecDialect, arith::ArithDialect, math::MathDialect,
                      linalg::LinalgDialect, tensor::TensorDialect>();
}

/// Groups the axes of a tensor for collapse_shape / expand_shape when the axes
/// marked `isUnit` (all of size 1) are removed or inserted: each unit axis joins
/// the group of the next other axis, or of the last one at the end.
static SmallVector<ReassociationIndices> unitAxisGroups(ArrayRef<bool> isUnit) {
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices pending;
  for (int64_t i = 0, e = isUnit.size(); i < e; ++i) {
    pending.push_back(i);
    if (!isUnit[i]) {
      groups.push_back(pending);
      pending.clear();
    }
  }
  if (!groups.empty())
    groups.back().append(pending.begin(), pending.end());
  return groups; // empty when every axis is a unit axis: the rank-0 case
}

namespace {

class MLIRGenImpl {
public:
  MLIRGenImpl(MLIRContext &context, const llvm::SourceMgr &sourceMgr, StringRef filename)
      : builder(&context), sourceMgr(sourceMgr),
        file(StringAttr::get(&context, filename)) {}

  rec::ModelOp genModel(const Model &model);
  void setInsertionPointToEnd(Block *block) { builder.setInsertionPointToEnd(block); }

private:
  Location loc(llvm::SMLoc smloc) {
    auto [line, col] = sourceMgr.getLineAndColumn(smloc);
    return FileLineColLoc::get(file, line, col);
  }
  RankedTensorType tensorType(ArrayRef<int64_t> shape, Type elem = {}) {
    return RankedTensorType::get(shape, elem ? elem : builder.getF32Type());
  }
  static Shape shapeOf(Value v) {
    auto shape = cast<RankedTensorType>(v.getType()).getShape();
    return Shape(shape.begin(), shape.end());
  }

  Value splat(Location l, ArrayRef<int64_t> shape, double value) {
    auto type = tensorType(shape);
    return arith::ConstantOp::create(builder, l,
                                     DenseElementsAttr::get(type, static_cast<float>(value)));
  }
  Value scalar(Location l, double value) {
    return arith::ConstantOp::create(builder, l, builder.getF32FloatAttr(static_cast<float>(value)));
  }
  Value filled(Location l, ArrayRef<int64_t> shape, double value) {
    Value empty = tensor::EmptyOp::create(builder, l, shape, builder.getF32Type());
    return linalg::FillOp::create(builder, l, ValueRange{scalar(l, value)}, ValueRange{empty})
        .getResult(0);
  }

  Value broadcastTo(Location l, Value v, const Shape &target);
  Value contraction(Location l, ArrayRef<Value> operands, ArrayRef<SmallVector<int>> labels,
                    ArrayRef<int> resultLabels, const std::map<int, int64_t> &sizes);
  Value genExpr(const Expr &e);
  Value genCall(const Expr &e);
  Value genEinsum(const Expr &e);
  Value genUnary(const Expr &e, Value x);
  Value genMatmul(const Expr &e, Value a, Value b);
  Value genIndex(const Expr &e, Value a);
  Value genReduction(const Expr &e, Value a);

  OpBuilder builder;
  const llvm::SourceMgr &sourceMgr;
  StringAttr file;

  // The step being generated.
  const Model *model = nullptr;
  SmallVector<Value> inputs, params, prevStates, stmtValues;
};

} // namespace

Value MLIRGenImpl::broadcastTo(Location l, Value v, const Shape &target) {
  Shape source = shapeOf(v);
  if (source == target)
    return v;
  // A splat constant is simply re-created at the target shape.
  if (auto cst = v.getDefiningOp<arith::ConstantOp>())
    if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue()); dense && dense.isSplat()) {
      Value wide = arith::ConstantOp::create(
          builder, l,
          DenseElementsAttr::get(tensorType(target, dense.getElementType()),
                                 dense.getSplatValue<Attribute>()));
      if (cst->use_empty())
        cst->erase(); // the narrow constant was made only to be widened
      return wide;
    }
  size_t offset = target.size() - source.size();
  SmallVector<bool> dropped;
  SmallVector<int64_t> added;
  for (size_t i = 0; i < offset; ++i)
    added.push_back(static_cast<int64_t>(i));
  bool anyDropped = false;
  for (size_t i = 0; i < source.size(); ++i) {
    bool drop = source[i] == 1 && target[offset + i] != 1;
    dropped.push_back(drop);
    anyDropped |= drop;
    if (drop)
      added.push_back(static_cast<int64_t>(offset + i));
  }
  if (anyDropped)
    v = tensor::CollapseShapeOp::create(builder, l, v, unitAxisGroups(dropped));
  Type elem = cast<RankedTensorType>(v.getType()).getElementType();
  Value init = tensor::EmptyOp::create(builder, l, target, elem);
  return linalg::BroadcastOp::create(builder, l, v, init, added).getResult()[0];
}

Value MLIRGenImpl::contraction(Location l, ArrayRef<Value> operands,
                               ArrayRef<SmallVector<int>> labels, ArrayRef<int> resultLabels,
                               const std::map<int, int64_t> &sizes) {
  // Loops: the result's labels (parallel), then the summed ones (reduction).
  SmallVector<int> loops(resultLabels.begin(), resultLabels.end());
  for (auto &[label, size] : sizes)
    if (!llvm::is_contained(resultLabels, label))
      loops.push_back(label);
  auto position = [&](int label) {
    return static_cast<unsigned>(llvm::find(loops, label) - loops.begin());
  };
  MLIRContext *ctx = builder.getContext();
  SmallVector<AffineMap> maps;
  for (ArrayRef<int> operandLabels : labels) {
    SmallVector<AffineExpr> exprs;
    for (int label : operandLabels)
      exprs.push_back(getAffineDimExpr(position(label), ctx));
    maps.push_back(AffineMap::get(loops.size(), 0, exprs, ctx));
  }
  SmallVector<AffineExpr> resultExprs;
  Shape resultShape;
  for (int label : resultLabels) {
    resultExprs.push_back(getAffineDimExpr(position(label), ctx));
    resultShape.push_back(sizes.at(label));
  }
  maps.push_back(AffineMap::get(loops.size(), 0, resultExprs, ctx));
  SmallVector<utils::IteratorType> iterators;
  for (size_t i = 0; i < loops.size(); ++i)
    iterators.push_back(i < resultLabels.size() ? utils::IteratorType::parallel
                                                : utils::IteratorType::reduction);
  Value init = filled(l, resultShape, 0.0);
  auto generic = linalg::GenericOp::create(
      builder, l, TypeRange{init.getType()}, operands, ValueRange{init}, maps, iterators,
      [&](OpBuilder &b, Location bl, ValueRange args) {
        Value product = args[0];
        for (size_t i = 1; i + 1 < args.size(); ++i)
          product = arith::MulFOp::create(b, bl, product, args[i]);
        Value sum = arith::AddFOp::create(b, bl, args.back(), product);
        linalg::YieldOp::create(b, bl, sum);
      });
  return generic.getResult(0);
}

Value MLIRGenImpl::genMatmul(const Expr &e, Value a, Value b) {
  Location l = loc(e.loc);
  Shape sa = shapeOf(a), sb = shapeOf(b);
  Value init = filled(l, e.shape, 0.0);
  if (sa.size() == 1 && sb.size() == 1)
    return linalg::DotOp::create(builder, l, ValueRange{a, b}, ValueRange{init}).getResult(0);
  if (sa.size() == 2 && sb.size() == 1)
    return linalg::MatvecOp::create(builder, l, ValueRange{a, b}, ValueRange{init}).getResult(0);
  if (sa.size() == 1 && sb.size() == 2)
    return linalg::VecmatOp::create(builder, l, ValueRange{a, b}, ValueRange{init}).getResult(0);
  if (sa.size() == 2 && sb.size() == 2)
    return linalg::MatmulOp::create(builder, l, ValueRange{a, b}, ValueRange{init}).getResult(0);
  // Batched: broadcast the batch axes explicitly, then one contraction.
  size_t batchRank = e.shape.size() - (sa.size() >= 2 ? 1 : 0) - (sb.size() >= 2 ? 1 : 0);
  Shape batch(e.shape.begin(), e.shape.begin() + batchRank);
  std::map<int, int64_t> sizes;
  SmallVector<int> la, lb, lr;
  for (size_t i = 0; i < batchRank; ++i) {
    sizes[i] = batch[i];
    lr.push_back(i);
  }
  const int m = batchRank, k = batchRank + 1, n = batchRank + 2;
  sizes[k] = sa.back();
  if (sa.size() >= 2) {
    Shape full = batch;
    full.insert(full.end(), sa.end() - 2, sa.end());
    a = broadcastTo(l, a, full);
    la = lr;
    la.append({m, k});
    sizes[m] = sa[sa.size() - 2];
    lr.push_back(m);
  } else {
    la = {k};
  }
  if (sb.size() >= 2) {
    Shape full = batch;
    full.insert(full.end(), sb.end() - 2, sb.end());
    b = broadcastTo(l, b, full);
    for (size_t i = 0; i < batchRank; ++i)
      lb.push_back(i);
    lb.append({k, n});
    sizes[n] = sb.back();
    lr.push_back(n);
  } else {
    lb = {k};
  }
  return contraction(l, {a, b}, {la, lb}, lr, sizes);
}

Value MLIRGenImpl::genIndex(const Expr &e, Value a) {
  Location l = loc(e.loc);
  Shape source = shapeOf(a);
  SmallVector<OpFoldResult> offsets, sizes, strides;
  Shape sliced;
  bool needSlice = false;
  size_t axis = 0;
  for (const IndexItem &item : e.index) {
    if (item.kind == IndexItem::NewAxis)
      continue;
    offsets.push_back(builder.getIndexAttr(item.start));
    sizes.push_back(builder.getIndexAttr(item.stop - item.start));
    strides.push_back(builder.getIndexAttr(1));
    if (item.kind == IndexItem::Slice)
      sliced.push_back(item.stop - item.start);
    needSlice |= item.kind == IndexItem::Single || item.start != 0 || item.stop != source[axis];
    ++axis;
  }
  for (; axis < source.size(); ++axis) {
    offsets.push_back(builder.getIndexAttr(0));
    sizes.push_back(builder.getIndexAttr(source[axis]));
    strides.push_back(builder.getIndexAttr(1));
    sliced.push_back(source[axis]);
  }
  if (needSlice)
    a = tensor::ExtractSliceOp::create(builder, l, tensorType(sliced), a, offsets, sizes, strides);
  if (sliced == e.shape)
    return a;
  SmallVector<bool> isNew;
  for (const IndexItem &item : e.index)
    if (item.kind != IndexItem::Single)
      isNew.push_back(item.kind == IndexItem::NewAxis);
  isNew.resize(e.shape.size(), false);
  return tensor::ExpandShapeOp::create(builder, l, tensorType(e.shape), a, unitAxisGroups(isNew));
}

Value MLIRGenImpl::genReduction(const Expr &e, Value a) {
  Location l = loc(e.loc);
  Builtin kind = e.builtin;
  double init = kind == Builtin::ReduceMax   ? -HUGE_VAL
                : kind == Builtin::ReduceMin ? HUGE_VAL
                                             : 0.0;
  Shape source = shapeOf(a);
  SmallVector<int64_t> dims;
  if (e.axis < 0)
    for (size_t i = 0; i < source.size(); ++i)
      dims.push_back(static_cast<int64_t>(i));
  else
    dims.push_back(e.axis);
  if (dims.empty()) // reducing a scalar
    return a;
  Value acc = filled(l, e.shape, init);
  Value result =
      linalg::ReduceOp::create(builder, l, ValueRange{a}, ValueRange{acc}, dims,
                               [&](OpBuilder &b, Location bl, ValueRange args) {
                                 Value r;
                                 if (kind == Builtin::ReduceMax)
                                   r = arith::MaximumFOp::create(b, bl, args[0], args[1]);
                                 else if (kind == Builtin::ReduceMin)
                                   r = arith::MinimumFOp::create(b, bl, args[0], args[1]);
                                 else
                                   r = arith::AddFOp::create(b, bl, args[0], args[1]);
                                 linalg::YieldOp::create(b, bl, r);
                               })
          .getResult(0);
  if (kind == Builtin::Mean) {
    int64_t count = 1;
    for (int64_t d : dims)
      count *= source[d];
    result = arith::DivFOp::create(builder, l, result,
                                   splat(l, e.shape, static_cast<double>(count)));
  }
  return result;
}

Value MLIRGenImpl::genEinsum(const Expr &e) {
  std::string spec;
  for (char c : e.args[0]->name)
    if (c != ' ')
      spec += c;
  size_t arrow = spec.find("->");
  SmallVector<SmallVector<int>> labels(1);
  for (char c : spec.substr(0, arrow)) {
    if (c == ',')
      labels.emplace_back();
    else
      labels.back().push_back(c);
  }
  SmallVector<int> out(spec.begin() + arrow + 2, spec.end());
  SmallVector<Value> operands;
  std::map<int, int64_t> sizes;
  for (size_t i = 1; i < e.args.size(); ++i) {
    operands.push_back(genExpr(*e.args[i]));
    for (size_t d = 0; d < labels[i - 1].size(); ++d)
      sizes[labels[i - 1][d]] = e.args[i]->shape[d];
  }
  return contraction(loc(e.loc), operands, labels, out, sizes);
}

Value MLIRGenImpl::genCall(const Expr &e) {
  Location l = loc(e.loc);
  if (e.builtin == Builtin::Einsum)
    return genEinsum(e);
  SmallVector<Value> args;
  for (const ExprPtr &arg : e.args)
    args.push_back(genExpr(*arg));
  if (isReduction(e.builtin))
    return genReduction(e, args[0]);
  switch (e.builtin) {
  case Builtin::Attention:
    return rec::AttentionOp::create(builder, l, tensorType(e.shape), args[0], args[1], args[2],
                                    builder.getF64FloatAttr(e.scale),
                                    builder.getI64IntegerAttr(e.window));
  case Builtin::Dot: {
    Value init = filled(l, {}, 0.0);
    return linalg::DotOp::create(builder, l, ValueRange{args[0], args[1]}, ValueRange{init})
        .getResult(0);
  }
  case Builtin::Outer:
    return contraction(l, args, {{0}, {1}}, {0, 1},
                       {{0, e.args[0]->shape[0]}, {1, e.args[1]->shape[0]}});
  case Builtin::Concat:
    return tensor::ConcatOp::create(builder, l, e.axis, args);
  default:
    break;
  }
  // Elementwise from here on.
  for (Value &arg : args)
    arg = broadcastTo(l, arg, e.shape);
  switch (e.builtin) {
  case Builtin::Where:
    return arith::SelectOp::create(builder, l, args[0], args[1], args[2]);
  case Builtin::Pow:
    return math::PowFOp::create(builder, l, args[0], args[1]);
  case Builtin::Maximum:
    return arith::MaximumFOp::create(builder, l, args[0], args[1]);
  case Builtin::Minimum:
    return arith::MinimumFOp::create(builder, l, args[0], args[1]);
  default:
    return genUnary(e, args[0]);
  }
}

Value MLIRGenImpl::genUnary(const Expr &e, Value x) {
  Location l = loc(e.loc);
  auto zero = [&] { return splat(l, e.shape, 0.0); };
  auto sigmoid = [&](Value v) {
    Value one = splat(l, e.shape, 1.0);
    Value negExp = math::ExpOp::create(builder, l, arith::NegFOp::create(builder, l, v));
    return arith::DivFOp::create(builder, l, one, arith::AddFOp::create(builder, l, one, negExp));
  };
  // log(1 + exp(-|x|)): the stable tail shared by softplus and logsigmoid.
  auto softTail = [&](Value v) {
    Value negAbs = arith::NegFOp::create(builder, l, math::AbsFOp::create(builder, l, v));
    return math::Log1pOp::create(builder, l, math::ExpOp::create(builder, l, negAbs));
  };
  switch (e.builtin) {
  case Builtin::Exp: return math::ExpOp::create(builder, l, x);
  case Builtin::Log: return math::LogOp::create(builder, l, x);
  case Builtin::Sqrt: return math::SqrtOp::create(builder, l, x);
  case Builtin::Rsqrt: return math::RsqrtOp::create(builder, l, x);
  case Builtin::Abs: return math::AbsFOp::create(builder, l, x);
  case Builtin::Tanh: return math::TanhOp::create(builder, l, x);
  case Builtin::Sigmoid: return sigmoid(x);
  case Builtin::Relu: return arith::MaximumFOp::create(builder, l, x, zero());
  case Builtin::Silu: return arith::MulFOp::create(builder, l, x, sigmoid(x));
  case Builtin::Softplus:
    return arith::AddFOp::create(builder, l, arith::MaximumFOp::create(builder, l, x, zero()),
                                 softTail(x));
  default:
    // logsigmoid(x) = min(x, 0) - log(1 + exp(-|x|))
    return arith::SubFOp::create(builder, l, arith::MinimumFOp::create(builder, l, x, zero()),
                                 softTail(x));
  }
}

Value MLIRGenImpl::genExpr(const Expr &e) {
  Location l = loc(e.loc);
  switch (e.kind) {
  case Expr::Number:
    return splat(l, {}, e.number);
  case Expr::String:
    break;
  case Expr::Name:
    switch (e.binding.kind) {
    case Binding::Input: return inputs[e.binding.index];
    case Binding::Param: return params[e.binding.index];
    case Binding::PrevState: return prevStates[e.binding.index];
    case Binding::Stmt: return stmtValues[e.binding.index];
    case Binding::Dim:
      return splat(l, {}, static_cast<double>(model->dims[e.binding.index].value));
    case Binding::Unresolved: break;
    }
    break;
  case Expr::Neg:
    return arith::NegFOp::create(builder, l, genExpr(*e.args[0]));
  case Expr::Binary: {
    Value a = genExpr(*e.args[0]), b = genExpr(*e.args[1]);
    if (e.op == '@')
      return genMatmul(e, a, b);
    a = broadcastTo(l, a, e.shape);
    b = broadcastTo(l, b, e.shape);
    switch (e.op) {
    case '+': return arith::AddFOp::create(builder, l, a, b);
    case '-': return arith::SubFOp::create(builder, l, a, b);
    case '*': return arith::MulFOp::create(builder, l, a, b);
    default: return arith::DivFOp::create(builder, l, a, b);
    }
  }
  case Expr::Compare: {
    Value a = broadcastTo(l, genExpr(*e.args[0]), e.shape);
    Value b = broadcastTo(l, genExpr(*e.args[1]), e.shape);
    arith::CmpFPredicate pred;
    switch (e.cmp) {
    case CmpKind::LT: pred = arith::CmpFPredicate::OLT; break;
    case CmpKind::LE: pred = arith::CmpFPredicate::OLE; break;
    case CmpKind::GT: pred = arith::CmpFPredicate::OGT; break;
    case CmpKind::GE: pred = arith::CmpFPredicate::OGE; break;
    case CmpKind::EQ: pred = arith::CmpFPredicate::OEQ; break;
    case CmpKind::NE: pred = arith::CmpFPredicate::UNE; break;
    }
    return arith::CmpFOp::create(builder, l, pred, a, b);
  }
  case Expr::Index:
    return genIndex(e, genExpr(*e.args[0]));
  case Expr::Transpose: {
    Value a = genExpr(*e.args[0]);
    Value init = tensor::EmptyOp::create(builder, l, e.shape, builder.getF32Type());
    return linalg::TransposeOp::create(builder, l, a, init, ArrayRef<int64_t>{1, 0})
        .getResult()[0];
  }
  case Expr::Call:
    return genCall(e);
  }
  llvm_unreachable("expression kind not handled after Sema");
}

rec::ModelOp MLIRGenImpl::genModel(const Model &m) {
  model = &m;
  Location l = loc(m.loc);
  auto seqType = [&](const Decl &d) {
    Shape s = {ShapedType::kDynamic, ShapedType::kDynamic};
    s.insert(s.end(), d.shape.begin(), d.shape.end());
    return tensorType(s);
  };
  auto batchType = [&](const Decl &d) {
    Shape s = {ShapedType::kDynamic};
    s.insert(s.end(), d.shape.begin(), d.shape.end());
    return tensorType(s);
  };
  SmallVector<Type> argTypes = {builder.getIndexType(), builder.getIndexType()};
  SmallVector<Type> resultTypes, recurrenceTypes;
  SmallVector<Attribute> inputNames, paramNames, stateNames, outputNames;
  SmallVector<double> stateInit;
  for (const Decl &d : m.inputs) {
    argTypes.push_back(seqType(d));
    inputNames.push_back(builder.getStringAttr(d.name));
  }
  for (const Decl &d : m.params) {
    argTypes.push_back(tensorType(d.shape));
    paramNames.push_back(builder.getStringAttr(d.name));
  }
  for (const Decl &d : m.states) {
    argTypes.push_back(batchType(d));
    stateNames.push_back(builder.getStringAttr(d.name));
    stateInit.push_back(d.init.value_or(0.0));
    recurrenceTypes.push_back(batchType(d));
  }
  for (const Decl &d : m.outputs) {
    resultTypes.push_back(seqType(d));
    outputNames.push_back(builder.getStringAttr(d.name));
    recurrenceTypes.push_back(seqType(d));
  }
  for (const Decl &d : m.states)
    resultTypes.push_back(batchType(d));

  SmallVector<NamedAttribute> dims;
  for (const DimDecl &d : m.dims)
    dims.push_back(builder.getNamedAttr(d.name, builder.getI64IntegerAttr(d.value)));

  auto modelOp = rec::ModelOp::create(
      builder, l, builder.getStringAttr(m.name),
      TypeAttr::get(builder.getFunctionType(argTypes, resultTypes)), ArrayAttr(), ArrayAttr(),
      builder.getArrayAttr(inputNames), builder.getArrayAttr(paramNames),
      builder.getArrayAttr(stateNames), builder.getArrayAttr(outputNames),
      builder.getDenseF64ArrayAttr(stateInit),
      dims.empty() ? DictionaryAttr() : builder.getDictionaryAttr(dims), rec::ModelKindAttr(),
      IntegerAttr(), IntegerAttr());
  Block *entry = new Block();
  modelOp.getBody().push_back(entry);
  for (Type t : argTypes)
    entry->addArgument(t, l);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(entry);

  size_t nIn = m.inputs.size(), nParam = m.params.size(), nState = m.states.size();
  auto firstInput = entry->args_begin() + rec::ModelOp::kNumSizeArgs;
  SmallVector<Value> inputSeqs(firstInput, firstInput + nIn);
  params.assign(firstInput + nIn, firstInput + nIn + nParam);
  SmallVector<Value> inits(firstInput + nIn + nParam, entry->args_end());

  auto recurrence = rec::RecurrenceOp::create(builder, loc(m.stepLoc), recurrenceTypes,
                                              modelOp.getBatchSize(), modelOp.getLength(),
                                              inits, inputSeqs);
  Block &body = recurrence.getBody();
  prevStates.assign(body.args_begin(), body.args_begin() + nState);
  inputs.assign(body.args_begin() + nState, body.args_end());
  {
    OpBuilder::InsertionGuard stepGuard(builder);
    builder.setInsertionPointToStart(&body);
    stmtValues.clear();
    SmallVector<Value> newStates(nState), outputs(m.outputs.size());
    for (const Stmt &stmt : m.step) {
      Value v = genExpr(*stmt.value);
      if (stmt.targetKind == Stmt::State) {
        v = broadcastTo(loc(stmt.loc), v, m.states[stmt.targetIndex].shape);
        newStates[stmt.targetIndex] = v;
      } else if (stmt.targetKind == Stmt::Output) {
        v = broadcastTo(loc(stmt.loc), v, m.outputs[stmt.targetIndex].shape);
        outputs[stmt.targetIndex] = v;
      }
      stmtValues.push_back(v);
    }
    SmallVector<Value> yielded(newStates);
    yielded.append(outputs);
    rec::YieldOp::create(builder, loc(m.stepLoc), yielded);
  }
  SmallVector<Value> returned(recurrence.getOutputSequences());
  returned.append(recurrence.getFinalStates().begin(), recurrence.getFinalStates().end());
  rec::ReturnOp::create(builder, l, returned);
  return modelOp;
}

OwningOpRef<ModuleOp> seqc::mlirGen(MLIRContext &context, ArrayRef<const Model *> models,
                                    const llvm::SourceMgr &sourceMgr, StringRef filename) {
  loadDialects(context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&context));
  MLIRGenImpl gen(context, sourceMgr, filename);
  gen.setInsertionPointToEnd(module->getBody());
  for (const Model *m : models)
    gen.genModel(*m);
  return module;
}
