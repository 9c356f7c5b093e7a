//===- CPUTarget.h - Host code: LLVM IR, optimisation, machine code -------===//
//
// The last stages of `seqc FILE` for the host CPU, one function per step, so
// that the driver, `seqc check` and the GPU target's host side share them:
// the LLVM dialect to LLVM IR (with the runtime linked in), LLVM's
// optimisation, and assembly or an object file.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_TARGET_CPUTARGET_H
#define SEQC_TARGET_CPUTARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>

namespace seqc {

/// Bits of the host's vector registers (128, 256 or 512), for the register
/// tiles of seqc-tile-contractions: the kernels are built for the
/// host.
int64_t hostVectorBits();

/// What a module of host code is for: a CPU kernel, linked with the seqc
/// runtime; or the host side of GPU kernels, which calls the CUDA launcher
/// library and keeps only the M_forward_cuda entry points global.
enum class HostCode { CpuKernel, CudaLauncher };

/// Translates `module` (in the LLVM dialect) to LLVM IR for the host; for a
/// CPU kernel also links the runtime's bitcode, internalises everything but
/// the M_forward entry points and lets floating point reassociate. Null,
/// with `error` set, on failure.
std::unique_ptr<llvm::Module> translateToLLVMIR(mlir::ModuleOp module,
                                                llvm::LLVMContext &context, HostCode kind,
                                                std::string &error);

/// Which LLVM pipeline optimises a module: LLVM's default, or the default
/// fitted to seqc's kernels (identical functions merged first, no loop
/// unrolling; CPUTarget.cpp says why).
enum class LLVMPipeline { Default, GeneratedKernels };

/// Runs `pipeline` at `optLevel` (nothing at 0) for `machine`.
void optimiseModule(llvm::Module &module, llvm::TargetMachine &machine, int optLevel,
                    LLVMPipeline pipeline);
/// optimiseModule for the host CPU, with the GeneratedKernels pipeline.
bool optimiseHostModule(llvm::Module &module, int optLevel, std::string &error);

/// Writes position-independent assembly or an object file for the host.
bool emitMachineCode(llvm::Module &module, llvm::raw_pwrite_stream &out, bool assembly,
                     int optLevel, std::string &error);

/// A TargetMachine for the host CPU and its features (-march=native), PIC;
/// null with `error` set when LLVM has no target for the host.
llvm::TargetMachine *createHostTargetMachine(int optLevel, std::string &error);

/// Where compileHostModule spent its time: summed over the partitions'
/// threads for optimisation and code generation.
struct HostCodeGenStats {
  unsigned partitions = 1;
  double optimiseSeconds = 0, codegenSeconds = 0, assembleSeconds = 0;
};

/// Optimises `module` (optimiseHostModule) and writes its machine code for
/// the host, as assembly or an object file. A large module is cut into a
/// fixed number of partitions compiled on up to `threads` threads (0: one
/// per core) and assembled into one object (HostCodeGen.cpp); the output
/// does not depend on `threads`.
bool compileHostModule(llvm::Module &module, int optLevel, bool assembly, unsigned threads,
                       llvm::SmallVectorImpl<char> &out, std::string &error,
                       HostCodeGenStats *stats = nullptr);

} // namespace seqc

#endif // SEQC_TARGET_CPUTARGET_H
