//===- KernelLibrary.h - A compiled kernel, linked and loaded -------------===//
//
// What `seqc check` (and the gradient checks) run: the object file seqc
// made, linked into a shared library as a user would (`cc -shared M.o`,
// with libseqc_cuda for a GPU object) and loaded with dlopen. The CUDA
// driver is loaded the same way at run time, so that seqc starts on
// machines without a GPU.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_CHECK_KERNELLIBRARY_H
#define SEQC_CHECK_KERNELLIBRARY_H

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace seqc {

/// A kernel object linked into a temporary shared library and loaded. The
/// library is unloaded and its files removed when this is destroyed.
class KernelLibrary {
public:
  /// Links `object` (the bytes of seqc's object file for `name`) with `cc`
  /// into a temporary directory and loads it; with `cuda`, links the CUDA
  /// launcher from the lib/ folder beside seqc's bin/.
  static llvm::Expected<std::unique_ptr<KernelLibrary>> load(llvm::StringRef name,
                                                             llvm::StringRef object, bool cuda);
  ~KernelLibrary();
  KernelLibrary(const KernelLibrary &) = delete;
  KernelLibrary &operator=(const KernelLibrary &) = delete;

  /// The address of `symbol` in the library, or an error naming it.
  llvm::Expected<void *> lookup(llvm::StringRef symbol) const;

private:
  KernelLibrary() = default;

  llvm::SmallString<128> directory;
  std::string objectPath, libraryPath;
  void *handle = nullptr;
};

/// The few CUDA driver functions `seqc check --target nvptx` needs, from
/// libcuda.so.1 at run time.
struct CudaDriver {
  using Ptr = unsigned long long;
  int (*init)(unsigned);
  int (*deviceGet)(int *, int);
  int (*primaryCtxRetain)(void **, int);
  int (*ctxSetCurrent)(void *);
  int (*memAlloc)(Ptr *, size_t);
  int (*memFree)(Ptr);
  int (*memcpyHtoD)(Ptr, const void *, size_t);
  int (*memcpyDtoH)(void *, Ptr, size_t);
  int (*ctxSynchronize)();

  /// Loads the driver and makes device 0's primary context current.
  llvm::Error load();
};

} // namespace seqc

#endif // SEQC_CHECK_KERNELLIBRARY_H
