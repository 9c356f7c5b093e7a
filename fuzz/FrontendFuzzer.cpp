//===- FrontendFuzzer.cpp - libFuzzer target of the front end -------------===//
//
// Feeds arbitrary bytes through everything a user's file reaches: lexer,
// parser, Sema, the AST printer, MLIRGen plus the verifier, and (for models
// small enough to run in microseconds) the reference interpreter. Errors are
// fine; crashes, leaks, hangs and IR that fails to verify are bugs. A failed
// verification aborts on purpose so the fuzzer records the input.
//
//===----------------------------------------------------------------------===//
#include "seqc/Frontend/Diagnostics.h"
#include "seqc/Frontend/Interpreter.h"
#include "seqc/Frontend/MLIRGen.h"
#include "seqc/Frontend/Parser.h"
#include "seqc/Frontend/Sema.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdlib>

using namespace seqc;

/// Work of one step, counted as the iteration space of each contraction and the
/// size of each value: the interpreter runs only when this is small.
static double stepCost(const Expr &e) {
  double cost = static_cast<double>(Array::numElementsOf(e.shape));
  if (e.kind == Expr::Binary && e.op == '@' && !e.args[0]->shape.empty())
    cost *= static_cast<double>(e.args[0]->shape.back());
  if (e.kind == Expr::Call && e.name == "einsum") {
    cost = 1;
    for (size_t i = 1; i < e.args.size(); ++i)
      cost *= static_cast<double>(Array::numElementsOf(e.args[i]->shape));
  }
  for (const ExprPtr &arg : e.args)
    cost += stepCost(*arg);
  for (const KeywordArg &kw : e.kwargs)
    cost += stepCost(*kw.value);
  return cost;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::MLIRContext *context = [] {
    auto *ctx = new mlir::MLIRContext();
    ctx->disableMultithreading();
    loadDialects(*ctx);
    // Verifier messages are not wanted; a failure is reported below instead.
    ctx->getDiagEngine().registerHandler([](mlir::Diagnostic &) { return mlir::success(); });
    return ctx;
  }();

  llvm::SourceMgr sourceMgr;
  sourceMgr.setDiagHandler([](const llvm::SMDiagnostic &, void *) {});
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.seq"),
      llvm::SMLoc());
  Diagnostics diags(sourceMgr);
  Module module = parseModule(diags);
  if (!checkModule(module, diags, {}) || diags.hadError())
    return 0;

  std::vector<const Model *> models;
  for (const Model &m : module.models)
    models.push_back(&m);
  std::string text;
  llvm::raw_string_ostream os(text);
  printModels(models, os);

  mlir::OwningOpRef<mlir::ModuleOp> ir = mlirGen(*context, models, sourceMgr, "fuzz.seq");
  if (mlir::failed(mlir::verify(*ir))) {
    llvm::errs() << "generated IR failed to verify for:\n"
                 << llvm::StringRef(reinterpret_cast<const char *>(data), size) << "\n";
    std::abort();
  }

  for (const Model &m : module.models) {
    double cost = 0;
    for (const Stmt &s : m.step)
      cost += stepCost(*s.value);
    for (const Decl &d : m.params)
      cost += static_cast<double>(Array::numElementsOf(d.shape));
    if (cost > 20000)
      continue;
    if (llvm::Error err = checkRunSize(m, 2, 3)) {
      llvm::consumeError(std::move(err));
      continue;
    }
    ModelData data = drawData(m, 2, 3, 0);
    llvm::Expected<ModelResult> result = interpret(m, data);
    if (!result)
      llvm::consumeError(result.takeError());
  }
  return 0;
}
