//===- Interpreter.cpp - The float64 reference evaluator ------------------===//
//
// Deliberately simple: every operation allocates its result, broadcasting is
// done by index arithmetic, contractions by plain loops. Clarity over speed; it
// is the oracle, and T of a few thousand runs in well under a second.
//
//===----------------------------------------------------------------------===//
#include "seqc/Frontend/Interpreter.h"
#include "seqc/Frontend/Sema.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>
#include <map>

using namespace seqc;

//===----------------------------------------------------------------------===//
// Test data
//===----------------------------------------------------------------------===//

namespace {
/// splitmix64: tiny, portable and identical on every platform, unlike <random>'s
/// distributions, whose outputs the C++ standard leaves to the library.
class Rng {
public:
  explicit Rng(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {
    // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1].
    double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * v);
  }

private:
  uint64_t state;
};
} // namespace

static Array drawArray(const Decl &decl, Shape shape, Rng &rng) {
  Array array(std::move(shape));
  Distribution dist = decl.dist;
  if (dist.kind == Distribution::Default) {
    double bound = 1.0;
    if (decl.role == Decl::Param && decl.shape.size() >= 2)
      bound = 1.0 / std::sqrt(static_cast<double>(decl.shape.back()));
    dist = {Distribution::Uniform, -bound, bound};
  }
  for (double &x : array.data) {
    double v = dist.kind == Distribution::Uniform ? dist.a + (dist.b - dist.a) * rng.uniform()
                                                  : dist.a + dist.b * rng.normal();
    x = static_cast<double>(static_cast<float>(v));
  }
  return array;
}

llvm::Error seqc::checkRunSize(const Model &model, int64_t B, int64_t T) {
  // In double: B * T * size can overflow int64 long before it is refused.
  double perStep = 0, perRow = 0;
  for (const Decl &d : model.inputs)
    perStep += static_cast<double>(Array::numElementsOf(d.shape));
  for (const Decl &d : model.outputs)
    perStep += static_cast<double>(Array::numElementsOf(d.shape));
  for (const Decl &d : model.states)
    perRow += 3.0 * static_cast<double>(Array::numElementsOf(d.shape));
  double total = static_cast<double>(B) * (static_cast<double>(T) * perStep + perRow);
  if (B < 0 || T < 0 || total > static_cast<double>(int64_t(1) << 28))
    return llvm::createStringError(
        "B = %lld and T = %lld need %.3g values of inputs, outputs and states; the "
        "reference interpreter stops at 2^28 (2 GiB): use a smaller --B or --T",
        static_cast<long long>(B), static_cast<long long>(T), total);
  return llvm::Error::success();
}

ModelData seqc::drawData(const Model &model, int64_t B, int64_t T, uint64_t seed) {
  ModelData data;
  data.B = B;
  data.T = T;
  Rng rng(seed);
  for (const Decl &in : model.inputs) {
    Shape shape = {B, T};
    shape.insert(shape.end(), in.shape.begin(), in.shape.end());
    data.inputs.push_back(drawArray(in, shape, rng));
  }
  for (const Decl &p : model.params)
    data.params.push_back(drawArray(p, p.shape, rng));
  for (const Decl &s : model.states) {
    Shape shape = {B};
    shape.insert(shape.end(), s.shape.begin(), s.shape.end());
    data.initialStates.push_back(Array(shape, s.init.value_or(0.0)));
  }
  return data;
}

//===----------------------------------------------------------------------===//
// Array operations
//===----------------------------------------------------------------------===//

static std::vector<int64_t> stridesOf(const Shape &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/// NumPy broadcast of `a` to `shape` (which Sema has checked is valid).
static Array broadcastTo(const Array &a, const Shape &shape) {
  if (a.shape == shape)
    return a;
  Array result(shape);
  std::vector<int64_t> inStrides = stridesOf(a.shape);
  // Stride 0 for the broadcast axes, aligned to the right.
  std::vector<int64_t> strides(shape.size(), 0);
  size_t offset = shape.size() - a.shape.size();
  for (size_t i = 0; i < a.shape.size(); ++i)
    strides[offset + i] = a.shape[i] == 1 ? 0 : inStrides[i];
  std::vector<int64_t> index(shape.size(), 0);
  for (size_t flat = 0; flat < result.data.size(); ++flat) {
    int64_t src = 0;
    for (size_t d = 0; d < shape.size(); ++d)
      src += index[d] * strides[d];
    result.data[flat] = a.data[src];
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
  }
  return result;
}

template <typename Fn>
static Array elementwise(const std::vector<Array> &operands, const Shape &shape, Fn fn) {
  std::vector<Array> bs;
  for (const Array &a : operands)
    bs.push_back(broadcastTo(a, shape));
  Array result(shape);
  std::vector<double> args(bs.size());
  for (size_t i = 0; i < result.data.size(); ++i) {
    for (size_t j = 0; j < bs.size(); ++j)
      args[j] = bs[j].data[i];
    result.data[i] = fn(args);
  }
  return result;
}

static double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }
static double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

static double applyUnary(Builtin builtin, double x) {
  switch (builtin) {
  case Builtin::Exp: return std::exp(x);
  case Builtin::Log: return std::log(x);
  case Builtin::Sqrt: return std::sqrt(x);
  case Builtin::Rsqrt: return 1.0 / std::sqrt(x);
  case Builtin::Abs: return std::fabs(x);
  case Builtin::Tanh: return std::tanh(x);
  case Builtin::Sigmoid: return sigmoid(x);
  case Builtin::Relu: return x > 0 ? x : 0.0;
  case Builtin::Silu: return x * sigmoid(x);
  case Builtin::Softplus: return softplus(x);
  case Builtin::LogSigmoid: return -softplus(-x);
  default: return std::nan("");
  }
}

/// A general contraction: each operand's axes are labelled, the result's axes
/// too; labels absent from the result are summed over.
static Array contract(const std::vector<const Array *> &operands,
                      const std::vector<std::vector<int>> &labels,
                      const std::vector<int> &resultLabels, const std::map<int, int64_t> &sizes) {
  std::vector<int> all;
  for (auto &[label, size] : sizes)
    all.push_back(label);
  Shape resultShape;
  for (int l : resultLabels)
    resultShape.push_back(sizes.at(l));
  Array result(resultShape);
  std::map<int, size_t> position;
  for (size_t i = 0; i < all.size(); ++i)
    position[all[i]] = i;
  std::vector<int64_t> index(all.size(), 0);
  std::vector<std::vector<int64_t>> strides;
  for (const Array *a : operands)
    strides.push_back(stridesOf(a->shape));
  std::vector<int64_t> resultStrides = stridesOf(resultShape);
  int64_t total = 1;
  for (int l : all)
    total *= sizes.at(l);
  for (int64_t it = 0; it < total; ++it) {
    double product = 1.0;
    for (size_t o = 0; o < operands.size(); ++o) {
      int64_t flat = 0;
      for (size_t d = 0; d < labels[o].size(); ++d)
        flat += index[position[labels[o][d]]] * strides[o][d];
      product *= operands[o]->data[flat];
    }
    int64_t out = 0;
    for (size_t d = 0; d < resultLabels.size(); ++d)
      out += index[position[resultLabels[d]]] * resultStrides[d];
    result.data[out] += product;
    for (int64_t d = static_cast<int64_t>(all.size()) - 1; d >= 0; --d) {
      if (++index[d] < sizes.at(all[d]))
        break;
      index[d] = 0;
    }
  }
  return result;
}

/// NumPy matmul via `contract`, after broadcasting the batch axes explicitly.
static Array matmul(const Array &a0, const Array &b0, const Shape &resultShape) {
  Array a = a0, b = b0;
  bool vecA = a.shape.size() == 1, vecB = b.shape.size() == 1;
  if (vecA)
    a.shape.insert(a.shape.begin(), 1);
  if (vecB)
    b.shape.push_back(1);
  Shape batchA(a.shape.begin(), a.shape.end() - 2), batchB(b.shape.begin(), b.shape.end() - 2);
  Shape batch;
  broadcastShapes(batchA, batchB, batch);
  Shape fullA = batch, fullB = batch;
  fullA.insert(fullA.end(), a.shape.end() - 2, a.shape.end());
  fullB.insert(fullB.end(), b.shape.end() - 2, b.shape.end());
  a = broadcastTo(a, fullA);
  b = broadcastTo(b, fullB);
  int nb = static_cast<int>(batch.size());
  std::map<int, int64_t> sizes;
  std::vector<int> la, lb, lr;
  for (int i = 0; i < nb; ++i) {
    sizes[i] = batch[i];
    la.push_back(i);
    lb.push_back(i);
    lr.push_back(i);
  }
  int m = nb, k = nb + 1, n = nb + 2;
  sizes[m] = fullA[nb];
  sizes[k] = fullA[nb + 1];
  sizes[n] = fullB[nb + 1];
  la.push_back(m);
  la.push_back(k);
  lb.push_back(k);
  lb.push_back(n);
  if (!vecA)
    lr.push_back(m);
  else
    sizes[m] = 1;
  if (!vecB)
    lr.push_back(n);
  Array result = contract({&a, &b}, {la, lb}, lr, sizes);
  result.shape = resultShape;
  return result;
}

static Array reduce(const Array &a, int64_t axis, Builtin kind) {
  bool isMax = kind == Builtin::ReduceMax, isMin = kind == Builtin::ReduceMin;
  double init = isMax ? -HUGE_VAL : isMin ? HUGE_VAL : 0.0;
  if (axis < 0) {
    Array r(Shape{}, init);
    for (double x : a.data)
      r.data[0] = isMax ? std::max(r.data[0], x) : isMin ? std::min(r.data[0], x) : r.data[0] + x;
    if (kind == Builtin::Mean)
      r.data[0] /= static_cast<double>(a.data.size());
    return r;
  }
  int64_t outer = 1, inner = 1, n = a.shape[axis];
  for (int64_t d = 0; d < axis; ++d)
    outer *= a.shape[d];
  for (size_t d = axis + 1; d < a.shape.size(); ++d)
    inner *= a.shape[d];
  Shape shape = a.shape;
  shape.erase(shape.begin() + axis);
  Array r(shape, init);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < inner; ++i) {
        double x = a.data[(o * n + j) * inner + i];
        double &acc = r.data[o * inner + i];
        acc = isMax ? std::max(acc, x) : isMin ? std::min(acc, x) : acc + x;
      }
  if (kind == Builtin::Mean)
    for (double &x : r.data)
      x /= static_cast<double>(n);
  return r;
}

//===----------------------------------------------------------------------===//
// Evaluation
//===----------------------------------------------------------------------===//

namespace {
class StepEvaluator {
public:
  StepEvaluator(const Model &model) : model(model) {}

  /// Per batch row: the key/value history of each attention() call.
  void resetHistory() { history.clear(); }

  std::vector<const Array *> inputs, params, prevStates;
  std::vector<Array> stmtValues;

  Array eval(const Expr &e);

private:
  Array evalIndex(const Expr &e);
  Array evalCall(const Expr &e);
  Array einsum(const Expr &e);
  Array concat(const Expr &e, const std::vector<Array> &args);
  Array attention(const Expr &e);
  const Model &model;
  std::map<const Expr *, std::pair<std::vector<Array>, std::vector<Array>>> history;
};
} // namespace

Array StepEvaluator::attention(const Expr &e) {
  Array q = eval(*e.args[0]), k = eval(*e.args[1]), v = eval(*e.args[2]);
  auto &[keys, values] = history[&e];
  keys.push_back(k);
  values.push_back(v);
  int64_t dk = q.shape.back(), dv = v.shape.back();
  int64_t heads = static_cast<int64_t>(q.data.size()) / dk;
  int64_t n = static_cast<int64_t>(keys.size());
  int64_t first = e.window > 0 ? std::max<int64_t>(0, n - e.window) : 0;
  Array out(e.shape);
  std::vector<double> scores(n);
  for (int64_t h = 0; h < heads; ++h) {
    double maxScore = -HUGE_VAL;
    for (int64_t i = first; i < n; ++i) {
      double s = 0;
      for (int64_t d = 0; d < dk; ++d)
        s += q.data[h * dk + d] * keys[i].data[h * dk + d];
      scores[i] = e.scale * s;
      maxScore = std::max(maxScore, scores[i]);
    }
    double norm = 0;
    for (int64_t i = first; i < n; ++i)
      norm += std::exp(scores[i] - maxScore);
    for (int64_t i = first; i < n; ++i) {
      double p = std::exp(scores[i] - maxScore) / norm;
      for (int64_t d = 0; d < dv; ++d)
        out.data[h * dv + d] += p * values[i].data[h * dv + d];
    }
  }
  return out;
}

Array StepEvaluator::eval(const Expr &e) {
  switch (e.kind) {
  case Expr::Number:
    return Array(Shape{}, e.number);
  case Expr::String:
    return Array();
  case Expr::Name:
    switch (e.binding.kind) {
    case Binding::Input: return *inputs[e.binding.index];
    case Binding::Param: return *params[e.binding.index];
    case Binding::PrevState: return *prevStates[e.binding.index];
    case Binding::Stmt: return stmtValues[e.binding.index];
    case Binding::Dim: return Array(Shape{}, static_cast<double>(model.dims[e.binding.index].value));
    case Binding::Unresolved: break;
    }
    return Array(e.shape, std::nan(""));
  case Expr::Neg: {
    Array a = eval(*e.args[0]);
    for (double &x : a.data)
      x = -x;
    return a;
  }
  case Expr::Binary: {
    Array a = eval(*e.args[0]), b = eval(*e.args[1]);
    switch (e.op) {
    case '+': return elementwise({a, b}, e.shape, [](auto &x) { return x[0] + x[1]; });
    case '-': return elementwise({a, b}, e.shape, [](auto &x) { return x[0] - x[1]; });
    case '*': return elementwise({a, b}, e.shape, [](auto &x) { return x[0] * x[1]; });
    case '/': return elementwise({a, b}, e.shape, [](auto &x) { return x[0] / x[1]; });
    default: return matmul(a, b, e.shape);
    }
  }
  case Expr::Compare: {
    Array a = eval(*e.args[0]), b = eval(*e.args[1]);
    CmpKind cmp = e.cmp;
    return elementwise({a, b}, e.shape, [cmp](auto &x) -> double {
      switch (cmp) {
      case CmpKind::LT: return x[0] < x[1];
      case CmpKind::LE: return x[0] <= x[1];
      case CmpKind::GT: return x[0] > x[1];
      case CmpKind::GE: return x[0] >= x[1];
      case CmpKind::EQ: return x[0] == x[1];
      case CmpKind::NE: return x[0] != x[1];
      }
      return 0;
    });
  }
  case Expr::Transpose: {
    Array a = eval(*e.args[0]);
    Array r(e.shape);
    int64_t rows = a.shape[0], cols = a.shape[1];
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        r.data[j * rows + i] = a.data[i * cols + j];
    return r;
  }
  case Expr::Index:
    return evalIndex(e);
  case Expr::Call:
    return evalCall(e);
  }
  return Array(e.shape, std::nan(""));
}

Array StepEvaluator::evalIndex(const Expr &e) {
  Array a = eval(*e.args[0]);
  // Map each result axis to (source axis, offset); fixed source axes for Single.
  std::vector<int64_t> srcStrides = stridesOf(a.shape);
  int64_t base = 0;
  std::vector<int64_t> strides; // per result axis, in the source
  size_t axis = 0;
  for (const IndexItem &item : e.index) {
    if (item.kind == IndexItem::NewAxis) {
      strides.push_back(0);
      continue;
    }
    base += item.start * srcStrides[axis];
    if (item.kind == IndexItem::Slice)
      strides.push_back(srcStrides[axis]);
    ++axis;
  }
  for (; axis < a.shape.size(); ++axis)
    strides.push_back(srcStrides[axis]);
  Array r(e.shape);
  std::vector<int64_t> index(e.shape.size(), 0);
  for (size_t flat = 0; flat < r.data.size(); ++flat) {
    int64_t src = base;
    for (size_t d = 0; d < index.size(); ++d)
      src += index[d] * strides[d];
    r.data[flat] = a.data[src];
    for (int64_t d = static_cast<int64_t>(index.size()) - 1; d >= 0; --d) {
      if (++index[d] < e.shape[d])
        break;
      index[d] = 0;
    }
  }
  return r;
}

Array StepEvaluator::einsum(const Expr &e) {
  const std::string &spec = e.args[0]->name;
  std::vector<Array> ops;
  for (size_t i = 1; i < e.args.size(); ++i)
    ops.push_back(eval(*e.args[i]));
  std::string clean;
  for (char c : spec)
    if (c != ' ')
      clean += c;
  size_t arrow = clean.find("->");
  std::vector<std::vector<int>> labels(1);
  for (char c : clean.substr(0, arrow)) {
    if (c == ',')
      labels.emplace_back();
    else
      labels.back().push_back(c);
  }
  std::vector<int> out(clean.begin() + arrow + 2, clean.end());
  std::map<int, int64_t> sizes;
  std::vector<const Array *> ptrs;
  for (size_t o = 0; o < ops.size(); ++o) {
    ptrs.push_back(&ops[o]);
    for (size_t d = 0; d < labels[o].size(); ++d)
      sizes[labels[o][d]] = ops[o].shape[d];
  }
  return contract(ptrs, labels, out, sizes);
}

Array StepEvaluator::concat(const Expr &e, const std::vector<Array> &args) {
  Array r(e.shape);
  int64_t outer = 1;
  for (int64_t d = 0; d < e.axis; ++d)
    outer *= e.shape[d];
  size_t pos = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (const Array &a : args) {
      int64_t chunk = static_cast<int64_t>(a.data.size()) / outer;
      std::copy(a.data.begin() + o * chunk, a.data.begin() + (o + 1) * chunk,
                r.data.begin() + pos);
      pos += chunk;
    }
  return r;
}

Array StepEvaluator::evalCall(const Expr &e) {
  if (e.builtin == Builtin::Attention)
    return attention(e);
  if (e.builtin == Builtin::Einsum)
    return einsum(e);
  std::vector<Array> args;
  for (const ExprPtr &arg : e.args)
    args.push_back(eval(*arg));
  if (isUnary(e.builtin)) {
    for (double &x : args[0].data)
      x = applyUnary(e.builtin, x);
    return args[0];
  }
  if (isReduction(e.builtin))
    return reduce(args[0], e.axis, e.builtin);
  switch (e.builtin) {
  case Builtin::Where:
    return elementwise(args, e.shape, [](auto &x) { return x[0] != 0 ? x[1] : x[2]; });
  case Builtin::Pow:
    return elementwise(args, e.shape, [](auto &x) { return std::pow(x[0], x[1]); });
  case Builtin::Maximum:
    return elementwise(args, e.shape, [](auto &x) { return x[0] > x[1] ? x[0] : x[1]; });
  case Builtin::Minimum:
    return elementwise(args, e.shape, [](auto &x) { return x[0] < x[1] ? x[0] : x[1]; });
  case Builtin::Dot:
    return contract({&args[0], &args[1]}, {{0}, {0}}, {}, {{0, args[0].shape[0]}});
  case Builtin::Outer:
    return contract({&args[0], &args[1]}, {{0}, {1}}, {0, 1},
                    {{0, args[0].shape[0]}, {1, args[1].shape[0]}});
  case Builtin::Concat:
    return concat(e, args);
  default:
    return Array(e.shape, std::nan(""));
  }
}

llvm::Expected<ModelResult> seqc::interpret(const Model &model, const ModelData &data) {
  const int64_t B = data.B, T = data.T;
  ModelResult result;
  auto sizeOf = [](const Decl &d) { return Array::numElementsOf(d.shape); };
  if (llvm::Error err = checkRunSize(model, B, T))
    return std::move(err);
  for (const Decl &d : model.outputs) {
    Shape shape = {B, T};
    shape.insert(shape.end(), d.shape.begin(), d.shape.end());
    result.outputs.push_back(Array(shape));
  }
  for (const Decl &d : model.states) {
    Shape shape = {B};
    shape.insert(shape.end(), d.shape.begin(), d.shape.end());
    result.finalStates.push_back(Array(shape));
  }

  StepEvaluator ev(model);
  for (const Array &p : data.params)
    ev.params.push_back(&p);
  // The evaluator points into these two vectors, which are never resized.
  std::vector<Array> inputSlices(model.inputs.size()), states(model.states.size());
  for (Array &a : inputSlices)
    ev.inputs.push_back(&a);
  for (Array &s : states)
    ev.prevStates.push_back(&s);

  for (int64_t b = 0; b < B; ++b) {
    ev.resetHistory();
    for (size_t s = 0; s < model.states.size(); ++s) {
      int64_t n = sizeOf(model.states[s]);
      states[s] = Array(model.states[s].shape);
      std::copy_n(data.initialStates[s].data.begin() + b * n, n, states[s].data.begin());
    }
    for (int64_t t = 0; t < T; ++t) {
      for (size_t i = 0; i < model.inputs.size(); ++i) {
        int64_t n = sizeOf(model.inputs[i]);
        inputSlices[i] = Array(model.inputs[i].shape);
        std::copy_n(data.inputs[i].data.begin() + (b * T + t) * n, n, inputSlices[i].data.begin());
      }
      ev.stmtValues.assign(model.step.size(), Array());
      std::vector<Array> newStates = states;
      for (size_t s = 0; s < model.step.size(); ++s) {
        const Stmt &stmt = model.step[s];
        Array value = ev.eval(*stmt.value);
        if (stmt.targetKind == Stmt::State) {
          value = broadcastTo(value, model.states[stmt.targetIndex].shape);
          newStates[stmt.targetIndex] = value;
        } else if (stmt.targetKind == Stmt::Output) {
          value = broadcastTo(value, model.outputs[stmt.targetIndex].shape);
          int64_t n = sizeOf(model.outputs[stmt.targetIndex]);
          std::copy_n(value.data.begin(), n,
                      result.outputs[stmt.targetIndex].data.begin() + (b * T + t) * n);
        }
        ev.stmtValues[s] = std::move(value);
      }
      for (size_t s = 0; s < states.size(); ++s)
        states[s] = std::move(newStates[s]);
    }
    for (size_t s = 0; s < model.states.size(); ++s) {
      int64_t n = sizeOf(model.states[s]);
      std::copy_n(states[s].data.begin(), n, result.finalStates[s].data.begin() + b * n);
    }
  }
  return result;
}

llvm::Error seqc::writeNpy(llvm::StringRef path, const Array &array) {
  std::error_code ec;
  llvm::ToolOutputFile file(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return llvm::createStringError(ec, "cannot write '%s': %s", path.str().c_str(),
                                   ec.message().c_str());
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (";
  for (int64_t d : array.shape)
    header += std::to_string(d) + ", ";
  header += "), }";
  // Magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  llvm::raw_ostream &os = file.os();
  os << "\x93NUMPY" << '\x01' << '\x00';
  uint16_t len = static_cast<uint16_t>(header.size());
  os << static_cast<char>(len & 0xff) << static_cast<char>(len >> 8) << header;
  os.write(reinterpret_cast<const char *>(array.data.data()), array.data.size() * sizeof(double));
  file.keep();
  return llvm::Error::success();
}
