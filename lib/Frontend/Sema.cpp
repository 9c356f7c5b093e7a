//===- Sema.cpp - Semantic checks of a .seq module ------------------------===//
//
// One pass over each model: dims, then declarations, then the step block top
// to bottom with a scope that maps each name to what it means at that point
// (a state means its previous value until it is assigned, its new value after).
// An expression that failed leaves `failed` set so that its users stay silent
// instead of repeating the error.
//
//===----------------------------------------------------------------------===//
#include "seqc/Frontend/Sema.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include <cmath>

using namespace seqc;
using llvm::SMLoc;
using llvm::StringRef;
using llvm::Twine;

std::string seqc::shapeToString(const Shape &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t seqc::numElements(const Shape &shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > kMaxElements / d)
      return kMaxElements + 1;
    n *= d;
  }
  return n;
}

bool seqc::broadcastShapes(const Shape &a, const Shape &b, Shape &result) {
  size_t rank = std::max(a.size(), b.size());
  result.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      return false;
    result[rank - 1 - i] = da == 1 ? db : da;
  }
  return true;
}

Builtin seqc::lookupBuiltin(StringRef name, size_t numArgs) {
  return llvm::StringSwitch<Builtin>(name)
      .Case("exp", Builtin::Exp)
      .Case("log", Builtin::Log)
      .Case("sqrt", Builtin::Sqrt)
      .Case("rsqrt", Builtin::Rsqrt)
      .Case("abs", Builtin::Abs)
      .Case("tanh", Builtin::Tanh)
      .Case("sigmoid", Builtin::Sigmoid)
      .Case("relu", Builtin::Relu)
      .Case("silu", Builtin::Silu)
      .Case("softplus", Builtin::Softplus)
      .Case("logsigmoid", Builtin::LogSigmoid)
      .Case("where", Builtin::Where)
      .Case("pow", Builtin::Pow)
      .Case("max", numArgs == 2 ? Builtin::Maximum : Builtin::ReduceMax)
      .Case("min", numArgs == 2 ? Builtin::Minimum : Builtin::ReduceMin)
      .Case("sum", Builtin::Sum)
      .Case("mean", Builtin::Mean)
      .Case("dot", Builtin::Dot)
      .Case("outer", Builtin::Outer)
      .Case("einsum", Builtin::Einsum)
      .Case("concat", Builtin::Concat)
      .Case("attention", Builtin::Attention)
      .Default(Builtin::None);
}

bool seqc::isBuiltinName(StringRef name) { return lookupBuiltin(name, 1) != Builtin::None; }

namespace {

class ModelChecker {
public:
  ModelChecker(Model &model, Diagnostics &diags) : model(model), diags(diags) {}
  void check(const DimOverrides &overrides);

private:
  bool error(SMLoc loc, const Twine &msg) {
    diags.error(loc, msg);
    return false;
  }
  bool resolveDim(const DimRef &dim, int64_t &value);
  void checkDecl(Decl &decl);
  bool checkDeclType(Decl &decl);
  void checkStep();
  bool checkExpr(Expr &e);
  bool checkValue(Expr &e); // a numeric (non-comparison, non-string) operand
  bool checkCall(Expr &e);
  bool checkArity(Expr &e, size_t n, const Twine &usage);
  bool checkWhere(Expr &e);
  bool checkReduction(Expr &e);
  bool checkVectorProduct(Expr &e);
  bool checkConcat(Expr &e);
  bool checkAttention(Expr &e);
  bool checkMatmul(Expr &e);
  bool checkIndex(Expr &e);
  bool checkEinsum(Expr &e);
  bool checkAxisKeyword(Expr &e, int64_t rank, bool allowAll);
  bool checkKeywords(Expr &e, std::initializer_list<StringRef> allowed);
  bool constantValue(Expr &e, double &value);
  bool setShape(Expr &e, Shape shape) {
    if (numElements(shape) > kMaxElements)
      return error(e.loc, "value of shape " + shapeToString(shape) +
                              " is too large (more than 2^28 elements)");
    e.shape = std::move(shape);
    return true;
  }
  bool broadcastOperands(Expr &e, StringRef what);

  Model &model;
  Diagnostics &diags;
  llvm::StringMap<int64_t> dims;
  llvm::StringMap<Binding> scope;
  llvm::StringMap<SMLoc> declared; // every name declared at model level
  llvm::StringSet<> poisoned;      // names bound to a value that failed to check
  llvm::StringSet<> invalidDecls;  // declarations that failed their own check
};

} // namespace

bool ModelChecker::resolveDim(const DimRef &dim, int64_t &value) {
  if (dim.name.empty()) {
    value = dim.value;
    return true;
  }
  auto it = dims.find(dim.name);
  if (it == dims.end())
    return error(dim.loc, "unknown dim '" + dim.name + "'" +
                              (model.dims.empty() ? Twine("")
                                                  : Twine("; dims are declared as 'model ") +
                                                        model.name + "(NAME = VALUE, ...)'"));
  value = it->second;
  return true;
}

static bool isReserved(StringRef name) {
  return llvm::StringSwitch<bool>(name)
      .Cases({"inf", "None", "T", "model", "step"}, true)
      .Cases({"input", "param", "state", "output"}, true)
      .Default(false);
}

void ModelChecker::checkDecl(Decl &decl) {
  // A declaration that fails its own check still binds its name, poisoned, so
  // that its uses in the step stay silent instead of each saying "unknown name".
  bool valid = checkDeclType(decl);
  if (!valid)
    invalidDecls.insert(decl.name);
  if (valid && decl.role == Decl::State && !decl.init)
    decl.init = 0.0; // documented default
  Binding binding;
  binding.index = static_cast<int>(&decl - model.decls(decl.role).data());
  switch (decl.role) {
  case Decl::Input: binding.kind = Binding::Input; break;
  case Decl::Param: binding.kind = Binding::Param; break;
  case Decl::State: binding.kind = Binding::PrevState; break;
  case Decl::Output:
    if (!valid)
      poisoned.insert(decl.name);
    return; // not readable until assigned
  }
  if (scope.count(decl.name) && !valid)
    return; // a duplicate: the first declaration keeps the name
  scope[decl.name] = binding;
  if (!valid)
    poisoned.insert(decl.name);
}

bool ModelChecker::checkDeclType(Decl &decl) {
  static const char *roleNames[] = {"input", "param", "state", "output"};
  if (isReserved(decl.name)) {
    return error(decl.loc, "'" + decl.name + "' is a reserved word and cannot be declared");
  }
  auto [it, inserted] = declared.try_emplace(decl.name, decl.loc);
  if (!inserted) {
    error(decl.loc, "'" + decl.name + "' is already declared");
    diags.note(it->second, "first declared here");
    return false;
  }
  if (decl.elementType != "f32") {
    if (decl.elementType == "bf16" || decl.elementType == "f16")
      error(decl.elementTypeLoc, "element type '" + decl.elementType +
                                     "' is not supported yet; use f32");
    else
      error(decl.elementTypeLoc, "unknown element type '" + decl.elementType +
                                     "'; expected f32");
    return false;
  }
  decl.shape.clear();
  for (const DimRef &dim : decl.dims) {
    int64_t value;
    if (!resolveDim(dim, value))
      return false;
    if (value < 1)
      return error(dim.loc, "a size must be at least 1");
    decl.shape.push_back(value);
  }
  if (numElements(decl.shape) > kMaxElements)
    return error(decl.loc, Twine(roleNames[decl.role]) + " '" + decl.name + "' of shape " +
                               shapeToString(decl.shape) +
                               " is too large (more than 2^28 elements)");
  return true;
}

void ModelChecker::check(const DimOverrides &overrides) {
  for (DimDecl &dim : model.dims) {
    if (isReserved(dim.name)) {
      error(dim.loc, "'" + dim.name + "' is a reserved word and cannot name a dim");
      continue;
    }
    auto over = overrides.find(dim.name);
    if (over != overrides.end())
      dim.value = over->second;
    if (dim.value < 1) {
      error(dim.loc, "dim '" + dim.name + "' must be at least 1");
      continue;
    }
    auto [it, inserted] = declared.try_emplace(dim.name, dim.loc);
    if (!inserted) {
      error(dim.loc, "dim '" + dim.name + "' is declared twice");
      continue;
    }
    dims[dim.name] = dim.value;
    scope[dim.name] = Binding{Binding::Dim, static_cast<int>(&dim - model.dims.data())};
  }
  for (Decl::Role role : {Decl::Input, Decl::Param, Decl::State, Decl::Output})
    for (Decl &decl : model.decls(role))
      checkDecl(decl);
  if (!model.hasStep) {
    error(model.loc, "model '" + model.name + "' has no 'step' block");
    return;
  }
  if (model.outputs.empty())
    error(model.loc, "model '" + model.name + "' declares no output");
  checkStep();
}

void ModelChecker::checkStep() {
  llvm::StringMap<SMLoc> boundHere;
  for (size_t s = 0; s < model.step.size(); ++s) {
    Stmt &stmt = model.step[s];
    bool ok = checkValue(*stmt.value);

    // What does the target name?
    Decl *target = nullptr;
    for (Decl::Role role : {Decl::Input, Decl::Param, Decl::State, Decl::Output})
      for (Decl &decl : model.decls(role))
        if (decl.name == stmt.target)
          target = &decl;
    if (target && (target->role == Decl::Input || target->role == Decl::Param)) {
      error(stmt.loc, Twine("cannot assign to ") +
                          (target->role == Decl::Input ? "input" : "param") + " '" +
                          stmt.target + "'; inputs and params are read-only");
      continue;
    }
    if (dims.count(stmt.target)) {
      error(stmt.loc, "cannot assign to dim '" + stmt.target + "'");
      continue;
    }
    if (isReserved(stmt.target)) {
      error(stmt.loc, "'" + stmt.target + "' is a reserved word and cannot be assigned");
      continue;
    }
    auto [it, inserted] = boundHere.try_emplace(stmt.target, stmt.loc);
    if (!inserted) {
      if (target && target->role == Decl::State)
        error(stmt.loc, "state '" + stmt.target +
                            "' is assigned twice in the step; a state may be assigned at most once");
      else if (target)
        error(stmt.loc, "output '" + stmt.target +
                            "' is assigned twice in the step; every output is assigned exactly once");
      else
        error(stmt.loc, "'" + stmt.target +
                            "' is already bound in this step; a name is bound once per step");
      diags.note(it->second, "first assigned here");
      continue;
    }
    if (target) {
      stmt.targetKind = target->role == Decl::State ? Stmt::State : Stmt::Output;
      stmt.targetIndex = static_cast<int>(target - model.decls(target->role).data());
      Shape result;
      ok = ok && !invalidDecls.count(target->name); // its shape is unknown: say nothing
      if (ok && (!broadcastShapes(stmt.value->shape, target->shape, result) ||
                 result != target->shape)) {
        error(stmt.value->loc, Twine(target->role == Decl::State ? "state '" : "output '") +
                                   stmt.target + "' has shape " + shapeToString(target->shape) +
                                   " but is assigned a value of shape " +
                                   shapeToString(stmt.value->shape));
      }
    } else {
      stmt.targetKind = Stmt::Local;
    }
    scope[stmt.target] = Binding{Binding::Stmt, static_cast<int>(s)};
    if (!ok)
      poisoned.insert(stmt.target);
    else
      poisoned.erase(stmt.target);
  }
  for (Decl &state : model.states)
    if (!boundHere.count(state.name) && declared.lookup(state.name) == state.loc)
        error(state.loc, "state '" + state.name +
                             "' is never assigned in the step; a state must be updated "
                             "(use a param for a constant)");
  for (Decl &output : model.outputs)
    if (!boundHere.count(output.name) && declared.lookup(output.name) == output.loc)
      error(output.loc, "output '" + output.name + "' is never assigned in the step");
}

bool ModelChecker::checkValue(Expr &e) {
  if (!checkExpr(e))
    return false;
  if (e.isBool)
    return error(e.loc, "a comparison can only be the condition of where(c, a, b)");
  if (e.kind == Expr::String)
    return error(e.loc, "a string can only be the first argument of einsum()");
  return true;
}

bool ModelChecker::broadcastOperands(Expr &e, StringRef what) {
  Shape result = e.args[0]->shape;
  for (size_t i = 1; i < e.args.size(); ++i) {
    Shape next;
    if (!broadcastShapes(result, e.args[i]->shape, next)) {
      std::string shapes;
      for (size_t j = 0; j < e.args.size(); ++j)
        shapes += (j ? (j + 1 == e.args.size() ? " and " : ", ") : "") +
                  shapeToString(e.args[j]->shape);
      return error(e.loc, what + " cannot broadcast shapes " + shapes);
    }
    result = next;
  }
  return setShape(e, result);
}

bool ModelChecker::constantValue(Expr &e, double &value) {
  switch (e.kind) {
  case Expr::Number:
    value = e.number;
    return true;
  case Expr::Name: {
    auto it = dims.find(e.name);
    if (it == dims.end())
      return false;
    value = static_cast<double>(it->second);
    return true;
  }
  case Expr::Neg:
    if (!constantValue(*e.args[0], value))
      return false;
    value = -value;
    return true;
  case Expr::Binary: {
    double a, b;
    if (!constantValue(*e.args[0], a) || !constantValue(*e.args[1], b))
      return false;
    switch (e.op) {
    case '+': value = a + b; return true;
    case '-': value = a - b; return true;
    case '*': value = a * b; return true;
    case '/': value = a / b; return true;
    default: return false;
    }
  }
  case Expr::Call:
    if (e.args.size() == 1 && e.kwargs.empty() &&
        (e.name == "sqrt" || e.name == "rsqrt")) {
      double a;
      if (!constantValue(*e.args[0], a))
        return false;
      value = e.name == "sqrt" ? std::sqrt(a) : 1.0 / std::sqrt(a);
      return true;
    }
    return false;
  default:
    return false;
  }
}

bool ModelChecker::checkKeywords(Expr &e, std::initializer_list<StringRef> allowed) {
  for (const KeywordArg &kw : e.kwargs) {
    if (llvm::is_contained(allowed, StringRef(kw.name)))
      continue;
    std::string list;
    for (StringRef a : allowed)
      list += (list.empty() ? "'" : ", '") + a.str() + "'";
    return error(kw.loc, e.name + "() has no keyword argument '" + kw.name + "'" +
                             (list.empty() ? Twine("") : Twine("; it takes ") + list));
  }
  return true;
}

bool ModelChecker::checkAxisKeyword(Expr &e, int64_t rank, bool allowAll) {
  const KeywordArg *kw = e.getKeyword("axis");
  if (!kw) {
    if (!allowAll)
      e.axis = 0;
    else
      e.axis = -1;
    return true;
  }
  double value;
  if (!constantValue(*kw->value, value) || value != std::floor(value) || std::fabs(value) > 64)
    return error(kw->value->loc, "axis must be an integer constant");
  int64_t axis = static_cast<int64_t>(value);
  if (axis < -rank || axis >= rank)
    return error(kw->value->loc, "axis " + Twine(axis) + " is out of range for a value of rank " +
                                     Twine(rank));
  e.axis = axis < 0 ? axis + rank : axis;
  return true;
}

bool ModelChecker::checkExpr(Expr &e) {
  switch (e.kind) {
  case Expr::Number:
    e.shape = {};
    return true;
  case Expr::String:
    return true;
  case Expr::Name: {
    auto it = scope.find(e.name);
    if (it == scope.end()) {
      for (const Decl &out : model.outputs)
        if (out.name == e.name)
          return error(e.loc, "output '" + e.name + "' is read before it is assigned");
      if (isBuiltinName(e.name))
        return error(e.loc, "'" + e.name + "' is a function; call it as " + e.name + "(...)");
      return error(e.loc, "unknown name '" + e.name + "'");
    }
    if (poisoned.count(e.name))
      return false; // already reported where it was bound
    e.binding = it->second;
    switch (e.binding.kind) {
    case Binding::Input: e.shape = model.inputs[e.binding.index].shape; break;
    case Binding::Param: e.shape = model.params[e.binding.index].shape; break;
    case Binding::PrevState: e.shape = model.states[e.binding.index].shape; break;
    case Binding::Stmt: {
      Expr &v = *model.step[e.binding.index].value;
      const Stmt &stmt = model.step[e.binding.index];
      e.shape = stmt.targetKind == Stmt::State    ? model.states[stmt.targetIndex].shape
                : stmt.targetKind == Stmt::Output ? model.outputs[stmt.targetIndex].shape
                                                  : v.shape;
      break;
    }
    case Binding::Dim: e.shape = {}; break;
    case Binding::Unresolved: break;
    }
    return true;
  }
  case Expr::Neg:
    if (!checkValue(*e.args[0]))
      return false;
    e.shape = e.args[0]->shape;
    return true;
  case Expr::Binary: {
    bool ok = checkValue(*e.args[0]);
    ok = checkValue(*e.args[1]) && ok;
    if (!ok)
      return false;
    if (e.op == '@')
      return checkMatmul(e);
    return broadcastOperands(e, std::string("'") + e.op + "'");
  }
  case Expr::Compare: {
    bool ok = checkValue(*e.args[0]);
    ok = checkValue(*e.args[1]) && ok;
    if (!ok || !broadcastOperands(e, "comparison"))
      return false;
    e.isBool = true;
    return true;
  }
  case Expr::Index:
    if (!checkValue(*e.args[0]))
      return false;
    return checkIndex(e);
  case Expr::Transpose:
    if (!checkValue(*e.args[0]))
      return false;
    if (e.args[0]->shape.size() != 2)
      return error(e.loc, "'.T' transposes a matrix, but the value has shape " +
                              shapeToString(e.args[0]->shape));
    e.shape = {e.args[0]->shape[1], e.args[0]->shape[0]};
    return true;
  case Expr::Call:
    return checkCall(e);
  }
  return false;
}

bool ModelChecker::checkMatmul(Expr &e) {
  const Shape &a = e.args[0]->shape, &b = e.args[1]->shape;
  auto mismatch = [&](const Twine &why) {
    return error(e.loc, "'@' cannot multiply shapes " + shapeToString(a) + " and " +
                            shapeToString(b) + ": " + why);
  };
  if (a.empty() || b.empty())
    return mismatch("an operand is a scalar (use '*' to scale)");
  int64_t ka = a.back();
  int64_t kb = b.size() == 1 ? b[0] : b[b.size() - 2];
  if (ka != kb)
    return mismatch("the contracted dimensions differ (" + Twine(ka) + " vs " + Twine(kb) + ")");
  Shape batchA(a.begin(), a.end() - std::min<size_t>(a.size(), 2));
  Shape batchB(b.begin(), b.end() - std::min<size_t>(b.size(), 2));
  Shape batch;
  if (!broadcastShapes(batchA, batchB, batch))
    return mismatch("the batch dimensions do not broadcast");
  Shape result = batch;
  if (a.size() >= 2)
    result.push_back(a[a.size() - 2]);
  if (b.size() >= 2)
    result.push_back(b.back());
  return setShape(e, result);
}

bool ModelChecker::checkIndex(Expr &e) {
  const Shape &in = e.args[0]->shape;
  size_t consumed = 0;
  for (const IndexItem &item : e.index)
    if (item.kind != IndexItem::NewAxis)
      ++consumed;
  if (consumed > in.size())
    return error(e.loc, "too many subscripts (" + Twine(consumed) + ") for a value of shape " +
                            shapeToString(in));
  Shape result;
  size_t axis = 0;
  auto bound = [&](const DimRef &ref, int64_t size, int64_t &value) {
    if (!resolveDim(ref, value))
      return false;
    if (value < 0)
      value += size;
    return true;
  };
  for (IndexItem &item : e.index) {
    if (item.kind == IndexItem::NewAxis) {
      result.push_back(1);
      continue;
    }
    int64_t size = in[axis];
    if (item.kind == IndexItem::Single) {
      int64_t i;
      if (!bound(*item.lo, size, i))
        return false;
      if (i < 0 || i >= size)
        return error(item.loc, "index " + Twine(item.lo->name.empty() ? item.lo->value : i) +
                                   " is out of range for axis " + Twine(axis) + " of size " +
                                   Twine(size));
      item.start = i;
      item.stop = i + 1;
      ++axis;
      continue;
    }
    int64_t lo = 0, hi = size;
    if (item.lo && !bound(*item.lo, size, lo))
      return false;
    if (item.hi && !bound(*item.hi, size, hi))
      return false;
    if (lo < 0 || hi > size || lo >= hi)
      return error(item.loc, "slice " + Twine(lo) + ":" + Twine(hi) +
                                 " is empty or out of range for axis " + Twine(axis) +
                                 " of size " + Twine(size));
    item.start = lo;
    item.stop = hi;
    result.push_back(hi - lo);
    ++axis;
  }
  for (; axis < in.size(); ++axis)
    result.push_back(in[axis]);
  return setShape(e, result);
}

bool ModelChecker::checkEinsum(Expr &e) {
  if (e.args.empty() || e.args[0]->kind != Expr::String)
    return error(e.loc, "einsum() takes a spec string first, as in einsum(\"hk,hkv->hv\", q, S)");
  const std::string &spec = e.args[0]->name;
  SMLoc specLoc = e.args[0]->loc;
  size_t arrow = spec.find("->");
  if (arrow == std::string::npos)
    return error(specLoc, "einsum spec '" + spec + "' needs an explicit '->' and output");
  std::vector<std::string> inputs;
  std::string lhs = spec.substr(0, arrow), out = spec.substr(arrow + 2);
  size_t start = 0;
  while (true) {
    size_t comma = lhs.find(',', start);
    inputs.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos
                                                                  : comma - start));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  auto strip = [](std::string &s) {
    s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  };
  for (std::string &s : inputs)
    strip(s);
  strip(out);
  if (inputs.size() != e.args.size() - 1)
    return error(specLoc, "einsum spec '" + spec + "' names " + Twine(inputs.size()) +
                              " operands but " + Twine(e.args.size() - 1) + " are given");
  std::map<char, int64_t> sizes;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!checkValue(*e.args[i + 1]))
      return false;
    const Shape &shape = e.args[i + 1]->shape;
    const std::string &sub = inputs[i];
    if (sub.size() != shape.size())
      return error(e.args[i + 1]->loc, "einsum subscript '" + sub + "' has " +
                                           Twine(sub.size()) + " letters but the operand has shape " +
                                           shapeToString(shape));
    for (size_t j = 0; j < sub.size(); ++j) {
      char c = sub[j];
      if (!std::isalpha(static_cast<unsigned char>(c)))
        return error(specLoc, "einsum spec '" + spec + "' may hold only letters, ',' and '->'");
      if (sub.find(c) != j)
        return error(specLoc, "einsum subscript '" + sub + "' repeats '" + Twine(c) +
                                  "' (diagonals are not supported)");
      auto [it, inserted] = sizes.try_emplace(c, shape[j]);
      if (!inserted && it->second != shape[j])
        return error(e.args[i + 1]->loc, "einsum letter '" + Twine(c) + "' is " +
                                             Twine(it->second) + " in one operand and " +
                                             Twine(shape[j]) + " in operand " + Twine(i + 1) +
                                             " of shape " + shapeToString(shape));
    }
  }
  Shape result;
  for (size_t j = 0; j < out.size(); ++j) {
    char c = out[j];
    if (!sizes.count(c))
      return error(specLoc, "einsum output letter '" + Twine(c) + "' appears in no operand");
    if (out.find(c) != j)
      return error(specLoc, "einsum output repeats '" + Twine(c) + "'");
    result.push_back(sizes[c]);
  }
  return setShape(e, result);
}

bool ModelChecker::checkArity(Expr &e, size_t n, const Twine &usage) {
  if (e.args.size() != n)
    return error(e.loc, e.name + "() takes " + Twine(n) + " argument" + (n == 1 ? "" : "s") +
                            " (" + usage + "), " + Twine(e.args.size()) + " given");
  return true;
}

bool ModelChecker::checkCall(Expr &e) {
  e.builtin = lookupBuiltin(e.name, e.args.size());
  if (e.builtin == Builtin::Einsum)
    return checkKeywords(e, {}) && checkEinsum(e);
  if (e.builtin == Builtin::Where)
    return checkWhere(e);

  // Every other function takes numeric operands.
  bool ok = true;
  for (ExprPtr &arg : e.args)
    ok = checkValue(*arg) && ok;
  for (KeywordArg &kw : e.kwargs)
    ok = checkValue(*kw.value) && ok;
  if (!ok)
    return false;
  if (e.builtin == Builtin::None)
    return error(e.loc, "unknown function '" + e.name + "'");

  if (isUnary(e.builtin)) {
    if (!checkKeywords(e, {}) || !checkArity(e, 1, e.name + "(x)"))
      return false;
    e.shape = e.args[0]->shape;
    return true;
  }
  if (isReduction(e.builtin))
    return checkReduction(e);
  switch (e.builtin) {
  case Builtin::Pow:
  case Builtin::Maximum:
  case Builtin::Minimum:
    if (!checkKeywords(e, {}) || !checkArity(e, 2, e.name + "(a, b)"))
      return false;
    return broadcastOperands(e, e.name + "()");
  case Builtin::Dot:
  case Builtin::Outer:
    return checkVectorProduct(e);
  case Builtin::Concat:
    return checkConcat(e);
  case Builtin::Attention:
    return checkAttention(e);
  default:
    return error(e.loc, "unknown function '" + e.name + "'");
  }
}

bool ModelChecker::checkWhere(Expr &e) {
  if (!checkKeywords(e, {}) || !checkArity(e, 3, "where(c, a, b)"))
    return false;
  bool ok = checkExpr(*e.args[0]);
  if (ok && !e.args[0]->isBool)
    ok = error(e.args[0]->loc, "where()'s condition must be a comparison such as a < b");
  ok = checkValue(*e.args[1]) && ok;
  ok = checkValue(*e.args[2]) && ok;
  return ok && broadcastOperands(e, "where()");
}

bool ModelChecker::checkReduction(Expr &e) {
  if (!checkKeywords(e, {"axis"}) || !checkArity(e, 1, e.name + "(a, axis=k)"))
    return false;
  const Shape &in = e.args[0]->shape;
  if (!checkAxisKeyword(e, static_cast<int64_t>(in.size()), /*allowAll=*/true))
    return false;
  if (e.axis < 0) {
    e.shape = {};
  } else {
    e.shape = in;
    e.shape.erase(e.shape.begin() + e.axis);
  }
  return true;
}

bool ModelChecker::checkVectorProduct(Expr &e) {
  if (!checkKeywords(e, {}) || !checkArity(e, 2, e.name + "(a, b)"))
    return false;
  const Shape &a = e.args[0]->shape, &b = e.args[1]->shape;
  if (a.size() != 1 || b.size() != 1)
    return error(e.loc, e.name + "() takes two vectors, got shapes " + shapeToString(a) +
                            " and " + shapeToString(b));
  if (e.builtin == Builtin::Outer)
    return setShape(e, {a[0], b[0]});
  if (a[0] != b[0])
    return error(e.loc, "dot() of vectors of different lengths: shapes " + shapeToString(a) +
                            " and " + shapeToString(b));
  e.shape = {};
  return true;
}

bool ModelChecker::checkConcat(Expr &e) {
  if (!checkKeywords(e, {"axis"}))
    return false;
  if (e.args.size() < 2)
    return error(e.loc, "concat() takes at least two values (concat(a, b, axis=k))");
  int64_t rank = static_cast<int64_t>(e.args[0]->shape.size());
  if (rank == 0)
    return error(e.args[0]->loc, "concat() cannot join scalars; index them with [None] first");
  if (!checkAxisKeyword(e, rank, /*allowAll=*/false))
    return false;
  Shape result = e.args[0]->shape;
  for (size_t i = 1; i < e.args.size(); ++i) {
    const Shape &s = e.args[i]->shape;
    bool match = static_cast<int64_t>(s.size()) == rank;
    for (int64_t d = 0; match && d < rank; ++d)
      match = d == e.axis || s[d] == result[d];
    if (!match)
      return error(e.loc, "concat() along axis " + Twine(e.axis) + " cannot join shapes " +
                              shapeToString(e.args[0]->shape) + " and " + shapeToString(s));
    result[e.axis] += s[e.axis];
  }
  return setShape(e, result);
}

bool ModelChecker::checkAttention(Expr &e) {
  if (!checkKeywords(e, {"scale", "window"}) || !checkArity(e, 3, "attention(q, k, v)"))
    return false;
  const Shape &q = e.args[0]->shape, &k = e.args[1]->shape, &v = e.args[2]->shape;
  auto bad = [&](const Twine &why) {
    return error(e.loc, "attention() of q " + shapeToString(q) + ", k " + shapeToString(k) +
                            ", v " + shapeToString(v) + ": " + why);
  };
  if (q.empty() || k.empty() || v.empty())
    return bad("q, k and v must be at least vectors");
  if (q != k)
    return bad("q and k must have the same shape");
  if (v.size() != q.size() || !std::equal(q.begin(), q.end() - 1, v.begin()))
    return bad("v must have the same leading (head) axes as q and k");
  e.scale = 1.0 / std::sqrt(static_cast<double>(q.back()));
  if (const KeywordArg *kw = e.getKeyword("scale")) {
    if (!constantValue(*kw->value, e.scale) || !std::isfinite(e.scale))
      return error(kw->value->loc, "attention()'s scale must be a finite constant");
  }
  if (const KeywordArg *kw = e.getKeyword("window")) {
    double w;
    if (!constantValue(*kw->value, w) || w != std::floor(w) || w < 1 || w > 1e9)
      return error(kw->value->loc, "attention()'s window must be a positive integer constant");
    e.window = static_cast<int64_t>(w);
  }
  Shape result = q;
  result.back() = v.back();
  return setShape(e, result);
}

bool seqc::checkModule(Module &module, Diagnostics &diags, const DimOverrides &overrides) {
  unsigned before = diags.errorCount();
  llvm::StringMap<SMLoc> names;
  for (Model &model : module.models) {
    auto [it, inserted] = names.try_emplace(model.name, model.loc);
    if (!inserted) {
      diags.error(model.loc, "model '" + model.name + "' is defined twice");
      diags.note(it->second, "first defined here");
      continue;
    }
    ModelChecker(model, diags).check(overrides);
  }
  // Every model M also has the entry points M_forward, M_forward_tape,
  // M_backward and M_tape_bytes: a model named like one of them would
  // clash with it in the object file.
  for (Model &model : module.models)
    for (llvm::StringRef suffix : {"_forward", "_forward_tape", "_backward", "_tape_bytes"}) {
      llvm::StringRef name = model.name;
      if (!name.consume_back(suffix))
        continue;
      auto other = names.find(name);
      if (other == names.end())
        continue;
      diags.error(model.loc, "model '" + model.name + "' has the name of an entry point of model '" +
                                 name.str() + "' (M" + suffix.str() + "); rename it");
      diags.note(other->second, "model '" + name.str() + "' is defined here");
    }
  return diags.errorCount() == before;
}
