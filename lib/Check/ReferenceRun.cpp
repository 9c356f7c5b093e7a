//===- ReferenceRun.cpp - seqc run ----------------------------------------===//
//
// The float64 reference interpreter on the data `seqc check` would draw for
// the same seed: a one-line summary per output and final state, and
// optionally every array as a NumPy file.
//
//===----------------------------------------------------------------------===//
#include "seqc/Check/KernelCheck.h"

#include "seqc/Frontend/Interpreter.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>

using namespace seqc;

namespace {

void printSummary(llvm::raw_ostream &os, llvm::StringRef kind, const Decl &decl,
                  const Array &array) {
  double sum = 0, maxAbs = 0;
  for (double x : array.data) {
    sum += x;
    maxAbs = std::max(maxAbs, std::fabs(x));
  }
  double mean = array.data.empty() ? 0.0 : sum / static_cast<double>(array.data.size());
  os << llvm::format("  %-6s %-12s %-22s mean % .6e  max|x| %.6e\n", kind.str().c_str(),
                     decl.name.c_str(), shapeToString(array.shape).c_str(), mean, maxAbs);
}

/// Every input, param, output and final state as DIRECTORY/NAME.npy (final
/// states as final_NAME.npy).
bool saveArrays(const Model &model, const ModelData &data, const ModelResult &result,
                llvm::StringRef directory) {
  if (std::error_code ec = llvm::sys::fs::create_directories(directory)) {
    llvm::errs() << directory << ": error: cannot create directory: " << ec.message() << "\n";
    return false;
  }
  auto save = [&](llvm::StringRef name, const Array &a) {
    llvm::SmallString<128> path(directory);
    llvm::sys::path::append(path, name + ".npy");
    if (llvm::Error err = writeNpy(path, a)) {
      llvm::errs() << "error: " << llvm::toString(std::move(err)) << "\n";
      return false;
    }
    return true;
  };
  bool ok = true;
  for (size_t i = 0; i < model.inputs.size(); ++i)
    ok = ok && save(model.inputs[i].name, data.inputs[i]);
  for (size_t i = 0; i < model.params.size(); ++i)
    ok = ok && save(model.params[i].name, data.params[i]);
  for (size_t i = 0; i < model.outputs.size(); ++i)
    ok = ok && save(model.outputs[i].name, result.outputs[i]);
  for (size_t i = 0; i < model.states.size(); ++i)
    ok = ok && save("final_" + model.states[i].name, result.finalStates[i]);
  return ok;
}

} // namespace

int seqc::runReference(const Model &model, const RunOptions &run, llvm::StringRef saveDirectory,
                       llvm::StringRef inputName) {
  if (llvm::Error err = checkRunSize(model, run.B, run.T)) {
    llvm::errs() << inputName << ": error: " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  ModelData data = drawData(model, run.B, run.T, run.seed);
  llvm::Expected<ModelResult> result = interpret(model, data);
  if (!result) {
    llvm::errs() << inputName << ": error: " << llvm::toString(result.takeError()) << "\n";
    return 1;
  }
  if (!saveDirectory.empty() && !saveArrays(model, data, *result, saveDirectory))
    return 1;
  llvm::raw_ostream &os = llvm::outs();
  os << "model " << model.name << ": B=" << run.B << " T=" << run.T << " seed=" << run.seed
     << " (float64 reference interpreter)\n";
  for (size_t i = 0; i < model.outputs.size(); ++i)
    printSummary(os, "output", model.outputs[i], result->outputs[i]);
  for (size_t i = 0; i < model.states.size(); ++i)
    printSummary(os, "final", model.states[i], result->finalStates[i]);
  return 0;
}
