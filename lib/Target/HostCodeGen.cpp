//===- HostCodeGen.cpp - Optimise and compile host code on several threads -===//
//
// LLVM optimises and compiles one module on one thread, and for a kernel
// that is most of seqc's time (docs/benchmarks.md). A kernel module splits
// well: most of it is loop bodies the runtime calls through pointers
// (convert-parallel-to-runtime outlines them), which nothing inlines. So the
// module is cut into a fixed number of partitions along those functions;
// each partition is optimised and compiled to assembly in an LLVMContext of
// its own, on as many threads as there are cores; and the partitions'
// assembly, concatenated, is assembled into one object, as the user expects
// one. The cut does not depend on the thread count, so neither does the
// object.
//
// What stays together: functions that share a variable (the runtime's
// statics and thread-locals, the appending llvm.global_dtors). What is copied
// into every partition, renamed there: small leaf helpers and constants,
// so that inlining and constant folding see them as before. A definition
// that another partition refers to stays local (no symbol leaves the
// object) and is kept alive with llvm.compiler.used; its references are
// dso_local declarations, so calls are direct.
//
//===----------------------------------------------------------------------===//
#include "seqc/Target/CPUTarget.h"

#include "llvm/ADT/EquivalenceClasses.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCAsmBackend.h"
#include "llvm/MC/MCAsmInfo.h"
#include "llvm/MC/MCCodeEmitter.h"
#include "llvm/MC/MCContext.h"
#include "llvm/MC/MCInstrInfo.h"
#include "llvm/MC/MCObjectFileInfo.h"
#include "llvm/MC/MCObjectWriter.h"
#include "llvm/MC/MCParser/MCAsmParser.h"
#include "llvm/MC/MCParser/MCTargetAsmParser.h"
#include "llvm/MC/MCRegisterInfo.h"
#include "llvm/MC/MCStreamer.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/MCTargetOptions.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Transforms/Utils/Cloning.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"

#include <chrono>
#include <mutex>

using namespace llvm;

namespace seqc {
namespace {

/// How many partitions a large module is cut into: a constant, so that the
/// object does not depend on the machine. Four keep up to four cores busy
/// and leave room to balance one big function against several small ones.
constexpr unsigned kPartitions = 4;
/// Below this many instructions the module is compiled whole: splitting and
/// assembling cost more than a second thread saves.
constexpr uint64_t kMinInstructionsToSplit = 4000;
/// A defined function of at most this many instructions, with no address
/// taken and no variable of its own, is copied into every partition (the
/// deallocation helper, small runtime functions), as inlining wants it.
constexpr unsigned kMaxCopiedFunction = 60;

uint64_t costOf(const GlobalValue &value) {
  if (auto *function = dyn_cast<Function>(&value))
    return function->getInstructionCount() + 1;
  return 1;
}

/// Calls `visit` with every global value `user` refers to, through constant
/// expressions too.
void forEachReferencedGlobal(const User &user, function_ref<void(const GlobalValue &)> visit) {
  SmallVector<const Value *> work(user.operands().begin(), user.operands().end());
  SmallPtrSet<const Value *, 16> seen;
  while (!work.empty()) {
    const Value *value = work.pop_back_val();
    if (!seen.insert(value).second)
      continue;
    if (auto *global = dyn_cast<GlobalValue>(value))
      visit(*global);
    else if (auto *constant = dyn_cast<Constant>(value))
      work.append(constant->operands().begin(), constant->operands().end());
  }
}

/// Calls `visit` with every global value a definition refers to.
void forEachReference(const GlobalValue &definition,
                      function_ref<void(const GlobalValue &)> visit) {
  if (auto *function = dyn_cast<Function>(&definition)) {
    for (const BasicBlock &block : *function)
      for (const Instruction &instruction : block)
        forEachReferencedGlobal(instruction, visit);
  } else if (auto *variable = dyn_cast<GlobalVariable>(&definition)) {
    if (variable->hasInitializer())
      forEachReferencedGlobal(*variable, visit);
  }
}

/// Which partition each definition of a module goes to.
class Partitioning {
public:
  explicit Partitioning(const Module &module) {
    for (const GlobalValue &value : module.global_values())
      if (!value.isDeclaration() && isCopied(value))
        copied.insert(&value);
    joinSharedVariables(module);
    assignGroups(module);
    markCrossReferences(module);
  }

  /// Whether `value` is copied into every partition instead of owned by one.
  bool isCopied(const GlobalValue &value) const {
    if (copied.contains(&value))
      return true;
    if (!value.hasLocalLinkage() || value.isDeclaration())
      return false;
    if (auto *variable = dyn_cast<GlobalVariable>(&value))
      return variable->isConstant() && !variable->isThreadLocal();
    auto *function = dyn_cast<Function>(&value);
    if (!function || function->hasAddressTaken() ||
        function->getInstructionCount() > kMaxCopiedFunction)
      return false;
    // A leaf: it refers to no other definition that is not a constant.
    bool leaf = true;
    forEachReference(*function, [&](const GlobalValue &target) {
      if (target.isDeclaration())
        return;
      auto *variable = dyn_cast<GlobalVariable>(&target);
      leaf &= variable && variable->isConstant() && !variable->isThreadLocal();
    });
    return leaf;
  }

  unsigned ownerOf(const GlobalValue &value) const { return owner.lookup(&value); }
  bool isReferencedElsewhere(const GlobalValue &value) const {
    return referencedElsewhere.contains(&value);
  }
  /// Instructions per partition, for the report.
  ArrayRef<uint64_t> costs() const { return partitionCosts; }

private:
  /// A variable and every definition that refers to it go together: the
  /// runtime's statics and thread-locals with their functions,
  /// llvm.global_dtors with its destructors.
  void joinSharedVariables(const Module &module) {
    for (const GlobalValue &value : module.global_values()) {
      if (value.isDeclaration() || isCopied(value))
        continue;
      groups.insert(&value);
      forEachReference(value, [&](const GlobalValue &target) {
        if (target.isDeclaration() || isCopied(target))
          return;
        bool variable = isa<GlobalVariable>(target) || isa<GlobalVariable>(value);
        if (variable)
          groups.unionSets(&value, &target);
      });
    }
  }

  /// Groups, largest first, each to the partition with the fewest
  /// instructions so far.
  void assignGroups(const Module &module) {
    DenseMap<const GlobalValue *, uint64_t> groupCost;
    std::vector<const GlobalValue *> leaders;
    for (const GlobalValue &value : module.global_values()) {
      if (value.isDeclaration() || isCopied(value))
        continue;
      const GlobalValue *leader = groups.getLeaderValue(&value);
      if (!groupCost.count(leader))
        leaders.push_back(leader);
      groupCost[leader] += costOf(value);
    }
    // Ties keep the module's order, so that the cut is the same every time.
    DenseMap<const GlobalValue *, size_t> order;
    for (auto [i, leader] : llvm::enumerate(leaders))
      order[leader] = i;
    llvm::sort(leaders, [&](const GlobalValue *a, const GlobalValue *b) {
      if (groupCost[a] != groupCost[b])
        return groupCost[a] > groupCost[b];
      return order[a] < order[b];
    });
    partitionCosts.assign(kPartitions, 0);
    DenseMap<const GlobalValue *, unsigned> partitionOfLeader;
    for (const GlobalValue *leader : leaders) {
      unsigned lightest = 0;
      for (unsigned p = 1; p < kPartitions; ++p)
        if (partitionCosts[p] < partitionCosts[lightest])
          lightest = p;
      partitionOfLeader[leader] = lightest;
      partitionCosts[lightest] += groupCost[leader];
    }
    for (const GlobalValue &value : module.global_values())
      if (!value.isDeclaration() && !isCopied(value))
        owner[&value] = partitionOfLeader[groups.getLeaderValue(&value)];
  }

  /// The owned definitions another partition refers to.
  void markCrossReferences(const Module &module) {
    for (const GlobalValue &value : module.global_values()) {
      if (value.isDeclaration())
        continue;
      forEachReference(value, [&](const GlobalValue &target) {
        if (target.isDeclaration() || isCopied(target))
          return;
        // A copied definition refers only to constants, which are copied.
        if (isCopied(value) || owner.lookup(&value) != owner.lookup(&target))
          referencedElsewhere.insert(&target);
      });
    }
  }

  SmallPtrSet<const GlobalValue *, 16> copied;
  EquivalenceClasses<const GlobalValue *> groups;
  DenseMap<const GlobalValue *, unsigned> owner;
  SmallPtrSet<const GlobalValue *, 16> referencedElsewhere;
  std::vector<uint64_t> partitionCosts;
};

/// Partition `index` of `module` as a module of its own: its definitions,
/// copies of the copied ones (renamed, so that the partitions' symbols stay
/// apart), declarations of the rest.
std::unique_ptr<Module> clonePartition(const Module &module, const Partitioning &partitioning,
                                       unsigned index) {
  ValueToValueMapTy map;
  std::unique_ptr<Module> part = CloneModule(module, map, [&](const GlobalValue *value) {
    return partitioning.isCopied(*value) || partitioning.ownerOf(*value) == index;
  });
  SmallVector<GlobalValue *> keep;
  for (const GlobalValue &original : module.global_values()) {
    if (original.isDeclaration())
      continue;
    auto *clone = cast<GlobalValue>(map[&original]);
    if (partitioning.isCopied(original)) {
      if (!original.getName().starts_with("llvm."))
        clone->setName(original.getName() + ".part" + Twine(index));
    } else if (partitioning.ownerOf(original) == index) {
      if (partitioning.isReferencedElsewhere(original) && clone->hasLocalLinkage())
        keep.push_back(clone);
    } else if (original.getName().starts_with("llvm.")) {
      // llvm.global_dtors and its kind live in their owner only.
      cast<GlobalVariable>(clone)->eraseFromParent();
    } else {
      // A definition in another partition of the same object: a direct
      // reference, resolved when the partitions are assembled together.
      clone->setVisibility(GlobalValue::HiddenVisibility);
      clone->setDSOLocal(true);
    }
  }
  if (!keep.empty())
    appendToCompilerUsed(*part, keep);
  return part;
}

/// The assembly of one partition: its `.L` labels (branch targets,
/// constant pools, private globals: numbered per module) prefixed with the
/// partition, so that the partitions' labels do not collide. Lines of
/// string data are left alone.
std::string renamePrivateLabels(StringRef text, unsigned index) {
  std::string renamed;
  renamed.reserve(text.size() + text.size() / 16);
  std::string prefix = (".Lp" + Twine(index) + "_").str();
  auto isSymbolChar = [](char c) { return isAlnum(c) || c == '_' || c == '.' || c == '$'; };
  while (!text.empty()) {
    auto [line, rest] = text.split('\n');
    StringRef directive = line.ltrim();
    if (directive.starts_with(".ascii") || directive.starts_with(".asciz") ||
        directive.starts_with(".string")) {
      renamed.append(line.begin(), line.end());
    } else {
      for (size_t i = 0; i < line.size(); ++i) {
        bool label = line[i] == '.' && i + 2 < line.size() && line[i + 1] == 'L' &&
                     isSymbolChar(line[i + 2]) && (i == 0 || !isSymbolChar(line[i - 1]));
        if (label) {
          renamed += prefix;
          i += 1;
          continue;
        }
        renamed += line[i];
      }
    }
    renamed += '\n';
    text = rest;
  }
  return renamed;
}

/// Assembles `text` into an ELF object for the host, as an assembler would.
bool assemble(StringRef text, TargetMachine &machine, SmallVectorImpl<char> &out,
              std::string &error) {
  static bool initialised = [] {
    InitializeNativeTargetAsmParser();
    return true;
  }();
  (void)initialised;
  const Triple &triple = machine.getTargetTriple();
  const Target &target = machine.getTarget();
  MCTargetOptions options;
  std::unique_ptr<MCRegisterInfo> registers(target.createMCRegInfo(triple));
  std::unique_ptr<MCAsmInfo> asmInfo(target.createMCAsmInfo(*registers, triple, options));
  std::unique_ptr<MCInstrInfo> instructions(target.createMCInstrInfo());
  std::unique_ptr<MCSubtargetInfo> subtarget(target.createMCSubtargetInfo(
      triple, machine.getTargetCPU(), machine.getTargetFeatureString()));
  SourceMgr sources;
  std::string diagnostics;
  sources.setDiagHandler(
      [](const SMDiagnostic &diagnostic, void *context) {
        raw_string_ostream os(*static_cast<std::string *>(context));
        diagnostic.print("seqc assembler", os, /*ShowColors=*/false);
      },
      &diagnostics);
  sources.AddNewSourceBuffer(MemoryBuffer::getMemBuffer(text, "", false), SMLoc());
  MCContext context(triple, asmInfo.get(), registers.get(), subtarget.get(), &sources, &options);
  std::unique_ptr<MCObjectFileInfo> files(target.createMCObjectFileInfo(context, /*PIC=*/true));
  context.setObjectFileInfo(files.get());
  raw_svector_ostream stream(out);
  std::unique_ptr<MCAsmBackend> backend(
      target.createMCAsmBackend(*subtarget, *registers, options));
  std::unique_ptr<MCObjectWriter> writer = backend->createObjectWriter(stream);
  std::unique_ptr<MCStreamer> streamer(target.createMCObjectStreamer(
      triple, context, std::move(backend), std::move(writer),
      std::unique_ptr<MCCodeEmitter>(target.createMCCodeEmitter(*instructions, context)),
      *subtarget));
  std::unique_ptr<MCAsmParser> parser(createMCAsmParser(sources, context, *streamer, *asmInfo));
  std::unique_ptr<MCTargetAsmParser> targetParser(
      target.createMCAsmParser(*subtarget, *parser, *instructions, options));
  parser->setTargetParser(*targetParser);
  if (parser->Run(/*NoInitialTextSection=*/false) || !diagnostics.empty()) {
    error = "internal error: the partitions' assembly does not assemble: " + diagnostics;
    return false;
  }
  return true;
}

using Clock = std::chrono::steady_clock;

/// Optimises and compiles the bitcode of one partition to assembly, in a
/// context of its own.
struct PartitionJob {
  SmallVector<char, 0> bitcode;
  std::string assembly, error;
  double optimiseSeconds = 0, codegenSeconds = 0;

  void run(int optLevel) {
    LLVMContext context;
    Expected<std::unique_ptr<Module>> module =
        parseBitcodeFile(MemoryBufferRef(StringRef(bitcode.data(), bitcode.size()), "part"),
                         context);
    if (!module) {
      error = "internal error: a partition's bitcode does not read back: " +
              toString(module.takeError());
      return;
    }
    Clock::time_point start = Clock::now();
    if (!optimiseHostModule(**module, optLevel, error))
      return;
    Clock::time_point optimised = Clock::now();
    SmallVector<char, 0> text;
    raw_svector_ostream os(text);
    if (!emitMachineCode(**module, os, /*assembly=*/true, optLevel, error))
      return;
    assembly.assign(text.begin(), text.end());
    optimiseSeconds = std::chrono::duration<double>(optimised - start).count();
    codegenSeconds = std::chrono::duration<double>(Clock::now() - optimised).count();
  }
};

} // namespace

bool compileHostModule(Module &module, int optLevel, bool assembly, unsigned threads,
                       SmallVectorImpl<char> &out, std::string &error, HostCodeGenStats *stats) {
  uint64_t instructions = 0;
  for (const Function &function : module)
    instructions += function.getInstructionCount();
  if (instructions < kMinInstructionsToSplit) {
    Clock::time_point start = Clock::now();
    if (!optimiseHostModule(module, optLevel, error))
      return false;
    Clock::time_point optimised = Clock::now();
    raw_svector_ostream os(out);
    bool ok = emitMachineCode(module, os, assembly, optLevel, error);
    if (stats)
      *stats = {1, std::chrono::duration<double>(optimised - start).count(),
                std::chrono::duration<double>(Clock::now() - optimised).count(), 0};
    return ok;
  }
  Partitioning partitioning(module);
  std::vector<PartitionJob> jobs(kPartitions);
  for (unsigned p = 0; p < kPartitions; ++p) {
    raw_svector_ostream os(jobs[p].bitcode);
    WriteBitcodeToFile(*clonePartition(module, partitioning, p), os);
  }
  {
    DefaultThreadPool pool(hardware_concurrency(threads));
    for (PartitionJob &job : jobs)
      pool.async([&job, optLevel] { job.run(optLevel); });
    pool.wait();
  }
  std::string text;
  HostCodeGenStats totals{kPartitions, 0, 0, 0};
  for (auto [p, job] : llvm::enumerate(jobs)) {
    if (!job.error.empty()) {
      error = job.error;
      return false;
    }
    text += renamePrivateLabels(job.assembly, p);
    totals.optimiseSeconds += job.optimiseSeconds;
    totals.codegenSeconds += job.codegenSeconds;
  }
  if (stats)
    *stats = totals;
  if (assembly) {
    out.assign(text.begin(), text.end());
    return true;
  }
  Clock::time_point start = Clock::now();
  std::unique_ptr<TargetMachine> machine(createHostTargetMachine(optLevel, error));
  if (!machine || !assemble(text, *machine, out, error))
    return false;
  if (stats)
    stats->assembleSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  return true;
}

} // namespace seqc
