//===- AST.h - The .seq abstract syntax tree ---------------------*- C++ -*-===//
//
// The parsed form of a .seq file. The parser fills in the syntax; Sema then
// annotates every expression with its shape and resolves every name to what it
// refers to, so that the interpreter and MLIRGen never re-derive either.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_AST_H
#define SEQC_FRONTEND_AST_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/SMLoc.h"
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace seqc {

using Shape = std::vector<int64_t>;

/// Renders a shape as it is written in .seq: `[H, D]`, or `[]` for a scalar.
std::string shapeToString(const Shape &shape);

/// A dimension as written in a type or a slice bound: a literal or a dim name.
struct DimRef {
  llvm::SMLoc loc;
  std::string name; // empty for a literal
  int64_t value = 0;
};

/// What a name in an expression refers to, filled in by Sema.
struct Binding {
  enum Kind { Unresolved, Input, Param, PrevState, Stmt, Dim };
  Kind kind = Unresolved;
  int index = 0; // declaration index for Input/Param/PrevState; statement for Stmt
};

/// One entry of a subscript: `lo:hi`, `None`, or an integer index.
struct IndexItem {
  enum Kind { Slice, NewAxis, Single };
  Kind kind = Slice;
  llvm::SMLoc loc;
  std::optional<DimRef> lo, hi; // Slice bounds, as written; Single uses lo
  // Resolved by Sema against the operand's shape.
  int64_t start = 0, stop = 0;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct KeywordArg {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr value;
};

enum class CmpKind { LT, LE, GT, GE, EQ, NE };

/// The built-in functions a call can name, resolved once by Sema (from the
/// name and, for max and min, the arity), so that the interpreter, MLIRGen
/// and the printer switch over it.
enum class Builtin {
  None, // not resolved (yet)
  // Elementwise, one argument.
  Exp, Log, Sqrt, Rsqrt, Abs, Tanh, Sigmoid, Relu, Silu, Softplus, LogSigmoid,
  // Elementwise, broadcast operands.
  Where, Pow, Maximum, Minimum,
  // Reductions over an axis or over everything.
  Sum, Mean, ReduceMax, ReduceMin,
  // Contractions and the rest.
  Dot, Outer, Einsum, Concat, Attention,
};

/// The builtin `name` calls with `numArgs` arguments; Builtin::None for a
/// name that is no function.
Builtin lookupBuiltin(llvm::StringRef name, size_t numArgs);
/// Whether `name` names a function at all (for "call it as f(...)").
bool isBuiltinName(llvm::StringRef name);
/// Elementwise functions of one argument (exp .. logsigmoid).
inline bool isUnary(Builtin builtin) {
  return builtin >= Builtin::Exp && builtin <= Builtin::LogSigmoid;
}
inline bool isReduction(Builtin builtin) {
  return builtin >= Builtin::Sum && builtin <= Builtin::ReduceMin;
}

/// Every pass over expressions recurses; bounding the depth keeps hostile input
/// (a 100000-term sum, thousands of parentheses) from overflowing the stack.
constexpr int kMaxExprDepth = 256;

struct Expr {
  enum Kind {
    Number,    // a literal; `number`
    String,    // a string literal (only as einsum's spec); `name`
    Name,      // a reference; `name`, resolved to `binding`
    Neg,       // -args[0]
    Binary,    // args[0] `op` args[1] with op one of + - * / @
    Compare,   // args[0] `cmp` args[1]
    Call,      // `name`(args..., kwargs...)
    Index,     // args[0][index...]
    Transpose, // args[0].T
  };
  Kind kind;
  llvm::SMLoc loc;
  int depth = 1; // of this subtree; the parser bounds it (kMaxExprDepth)
  double number = 0;
  std::string name;
  char op = 0;
  CmpKind cmp = CmpKind::LT;
  std::vector<ExprPtr> args;
  std::vector<KeywordArg> kwargs;
  std::vector<IndexItem> index;

  // Filled in by Sema.
  Builtin builtin = Builtin::None; // of a Call
  Binding binding;
  Shape shape;
  bool isBool = false;  // the result of a comparison
  int64_t axis = -1;    // normalised `axis=` of reductions and concat; -1 = all
  double scale = 0;     // attention's scale
  int64_t window = 0;   // attention's window; 0 = unbounded

  Expr(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  const KeywordArg *getKeyword(llvm::StringRef key) const {
    for (const KeywordArg &kw : kwargs)
      if (kw.name == key)
        return &kw;
    return nullptr;
  }
};

/// How `seqc check`, `seqc run` and benchmarks draw test data for a value.
struct Distribution {
  enum Kind { Default, Uniform, Normal };
  Kind kind = Default;
  double a = 0, b = 0; // uniform(lo, hi) or normal(mean, stddev)
};

struct Decl {
  enum Role { Input, Param, State, Output };
  Role role;
  std::string name;
  llvm::SMLoc loc;
  std::string elementType; // "f32"
  llvm::SMLoc elementTypeLoc;
  std::vector<DimRef> dims;
  Shape shape; // resolved by Sema
  std::optional<double> init; // states only
  Distribution dist;          // inputs and params only
};

struct Stmt {
  enum TargetKind { Local, State, Output };
  std::string target;
  llvm::SMLoc loc;
  ExprPtr value;
  // Resolved by Sema.
  TargetKind targetKind = Local;
  int targetIndex = 0; // index into the model's states or outputs
};

struct DimDecl {
  std::string name;
  llvm::SMLoc loc;
  int64_t value = 0;
};

struct Model {
  std::string name;
  llvm::SMLoc loc;
  std::vector<DimDecl> dims;
  std::vector<Decl> inputs, params, states, outputs;
  std::vector<Stmt> step;
  llvm::SMLoc stepLoc;
  bool hasStep = false;

  std::vector<Decl> &decls(Decl::Role role) {
    switch (role) {
    case Decl::Input: return inputs;
    case Decl::Param: return params;
    case Decl::State: return states;
    case Decl::Output: return outputs;
    }
    return inputs;
  }
  const std::vector<Decl> &decls(Decl::Role role) const {
    return const_cast<Model *>(this)->decls(role);
  }
  /// The statement that assigns state `i` or output `i`, or -1.
  int assigningStmt(Stmt::TargetKind kind, int i) const {
    for (size_t s = 0; s < step.size(); ++s)
      if (step[s].targetKind == kind && step[s].targetIndex == i)
        return static_cast<int>(s);
    return -1;
  }
};

struct Module {
  std::vector<Model> models;
  const Model *lookup(llvm::StringRef name) const {
    for (const Model &m : models)
      if (m.name == name)
        return &m;
    return nullptr;
  }
};

/// Prints checked models (`seqc --emit ast`).
void printModels(const std::vector<const Model *> &models, llvm::raw_ostream &os);

} // namespace seqc

#endif
