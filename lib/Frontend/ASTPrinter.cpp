//===- ASTPrinter.cpp - `seqc --emit ast` ----------------------------------===//
//
// Prints the checked model: dims with their final values, declarations with
// resolved shapes, and each statement with the shape Sema gave it. Binary
// operations are fully parenthesised and a state read before its assignment is
// shown as `h[t-1]`, so the output says exactly how the step was understood.
//
//===----------------------------------------------------------------------===//
#include "seqc/Frontend/AST.h"

#include "llvm/Support/raw_ostream.h"
#include <cmath>

using namespace seqc;

static void printNumber(llvm::raw_ostream &os, double v) {
  if (std::isinf(v)) {
    os << (v < 0 ? "-inf" : "inf");
    return;
  }
  char buf[64];
  snprintf(buf, sizeof buf, "%.9g", v);
  os << buf;
}

static const char *cmpSpelling(CmpKind k) {
  switch (k) {
  case CmpKind::LT: return "<";
  case CmpKind::LE: return "<=";
  case CmpKind::GT: return ">";
  case CmpKind::GE: return ">=";
  case CmpKind::EQ: return "==";
  case CmpKind::NE: return "!=";
  }
  return "?";
}

static void printExpr(llvm::raw_ostream &os, const Expr &e) {
  switch (e.kind) {
  case Expr::Number: printNumber(os, e.number); return;
  case Expr::String: os << '"' << e.name << '"'; return;
  case Expr::Name:
    os << e.name;
    if (e.binding.kind == Binding::PrevState)
      os << "[t-1]";
    return;
  case Expr::Neg:
    os << "(-";
    printExpr(os, *e.args[0]);
    os << ")";
    return;
  case Expr::Binary:
  case Expr::Compare:
    os << "(";
    printExpr(os, *e.args[0]);
    if (e.kind == Expr::Binary)
      os << " " << e.op << " ";
    else
      os << " " << cmpSpelling(e.cmp) << " ";
    printExpr(os, *e.args[1]);
    os << ")";
    return;
  case Expr::Transpose:
    printExpr(os, *e.args[0]);
    os << ".T";
    return;
  case Expr::Index:
    printExpr(os, *e.args[0]);
    os << "[";
    for (size_t i = 0; i < e.index.size(); ++i) {
      const IndexItem &item = e.index[i];
      os << (i ? ", " : "");
      if (item.kind == IndexItem::NewAxis)
        os << "None";
      else if (item.kind == IndexItem::Single)
        os << item.start;
      else
        os << item.start << ":" << item.stop;
    }
    os << "]";
    return;
  case Expr::Call:
    os << e.name << "(";
    for (size_t i = 0; i < e.args.size(); ++i) {
      os << (i ? ", " : "");
      printExpr(os, *e.args[i]);
    }
    if (e.builtin == Builtin::Attention) {
      os << ", scale=";
      printNumber(os, e.scale);
      if (e.window)
        os << ", window=" << e.window;
    } else if (e.axis >= 0) {
      os << ", axis=" << e.axis;
    }
    os << ")";
    return;
  }
}

void seqc::printModels(const std::vector<const Model *> &models, llvm::raw_ostream &os) {
  for (const Model *modelPtr : models) {
    const Model &model = *modelPtr;
    os << "model " << model.name << "(";
    for (size_t i = 0; i < model.dims.size(); ++i)
      os << (i ? ", " : "") << model.dims[i].name << " = " << model.dims[i].value;
    os << ")\n";
    for (Decl::Role role : {Decl::Input, Decl::Param, Decl::State, Decl::Output}) {
      static const char *names[] = {"input ", "param ", "state ", "output"};
      for (const Decl &d : model.decls(role)) {
        os << "  " << names[role] << " " << d.name << " : f32" << shapeToString(d.shape);
        if (d.init) {
          os << " = ";
          printNumber(os, *d.init);
        }
        if (d.dist.kind != Distribution::Default) {
          os << (d.dist.kind == Distribution::Uniform ? " ~ uniform(" : " ~ normal(");
          printNumber(os, d.dist.a);
          os << ", ";
          printNumber(os, d.dist.b);
          os << ")";
        }
        os << "\n";
      }
    }
    os << "  step\n";
    for (const Stmt &stmt : model.step) {
      static const char *kinds[] = {"", "state ", "output "};
      os << "    " << kinds[stmt.targetKind] << stmt.target << " : "
         << shapeToString(stmt.value->shape) << " = ";
      printExpr(os, *stmt.value);
      os << "\n";
    }
  }
}
