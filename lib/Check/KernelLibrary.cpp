//===- KernelLibrary.cpp - A compiled kernel, linked and loaded -----------===//
//
// Links with the system's C compiler (`cc`, else the clang seqc was built
// with), because that is what a user does with the object file; loads with
// dlopen. The CUDA driver is found at run time (libcuda.so.1).
//
//===----------------------------------------------------------------------===//
#include "seqc/Check/KernelLibrary.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/ToolOutputFile.h"

#include <dlfcn.h>
#include <optional>

using namespace seqc;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// -L and -rpath of the lib/ folder beside the bin/ of the running seqc
/// (where the CUDA launcher is built).
std::string launcherDirectory() {
  llvm::SmallString<256> dir(llvm::sys::path::parent_path(llvm::sys::fs::getMainExecutable(
      nullptr, reinterpret_cast<void *>(&launcherDirectory))));
  llvm::sys::path::append(dir, "..", "lib");
  return dir.str().str();
}

llvm::Error writeFile(llvm::StringRef path, llvm::StringRef bytes) {
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return fail(path + ": cannot write: " + ec.message());
  out.os() << bytes;
  out.os().close();
  if (out.os().has_error()) {
    out.os().clear_error();
    return fail(path + ": cannot write");
  }
  out.keep();
  return llvm::Error::success();
}

/// cc -shared OBJECT -o LIBRARY [launcher] -lm -lpthread.
llvm::Error link(llvm::StringRef object, llvm::StringRef library, bool cuda) {
  llvm::ErrorOr<std::string> cc = llvm::sys::findProgramByName("cc");
  if (!cc)
    cc = llvm::sys::findProgramByName("clang-" + std::to_string(LLVM_VERSION_MAJOR));
  if (!cc)
    return fail("'seqc check' needs a C compiler ('cc') to link the kernel");
  std::vector<llvm::StringRef> args = {*cc, "-shared", object, "-o", library};
  std::string searchPath, rpath;
  if (cuda) {
    std::string dir = launcherDirectory();
    searchPath = "-L" + dir;
    rpath = "-Wl,-rpath," + dir;
    args.insert(args.end(), {searchPath, rpath, "-lseqc_cuda"});
  }
  args.insert(args.end(), {"-lm", "-lpthread"});
  std::string error;
  if (llvm::sys::ExecuteAndWait(*cc, args, std::nullopt, {}, 0, 0, &error) != 0)
    return fail("linking the kernel failed" + (error.empty() ? "" : ": " + error));
  return llvm::Error::success();
}

} // namespace

llvm::Expected<std::unique_ptr<KernelLibrary>>
KernelLibrary::load(llvm::StringRef name, llvm::StringRef object, bool cuda) {
  std::unique_ptr<KernelLibrary> library(new KernelLibrary());
  if (std::error_code ec = llvm::sys::fs::createUniqueDirectory("seqc-check", library->directory))
    return fail("cannot create a temporary directory: " + ec.message());
  library->objectPath = (library->directory + "/" + name + ".o").str();
  library->libraryPath = (library->directory + "/lib" + name + ".so").str();
  if (llvm::Error error = writeFile(library->objectPath, object))
    return std::move(error);
  if (llvm::Error error = link(library->objectPath, library->libraryPath, cuda))
    return std::move(error);
  library->handle = dlopen(library->libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library->handle)
    return fail(llvm::Twine("cannot load the kernel: ") + dlerror());
  return std::move(library);
}

KernelLibrary::~KernelLibrary() {
  if (handle)
    dlclose(handle);
  llvm::sys::fs::remove(objectPath);
  llvm::sys::fs::remove(libraryPath);
  if (!directory.empty())
    llvm::sys::fs::remove(directory);
}

llvm::Expected<void *> KernelLibrary::lookup(llvm::StringRef symbol) const {
  if (void *address = dlsym(handle, symbol.str().c_str()))
    return address;
  return fail("the kernel has no symbol " + symbol);
}

llvm::Error CudaDriver::load() {
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!library)
    return fail("cannot load the CUDA driver (libcuda.so.1); --target nvptx runs need a GPU");
  auto get = [&](auto &slot, const char *name) {
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(dlsym(library, name));
    return slot != nullptr;
  };
  if (!get(init, "cuInit") || !get(deviceGet, "cuDeviceGet") ||
      !get(primaryCtxRetain, "cuDevicePrimaryCtxRetain") ||
      !get(ctxSetCurrent, "cuCtxSetCurrent") || !get(memAlloc, "cuMemAlloc_v2") ||
      !get(memFree, "cuMemFree_v2") || !get(memcpyHtoD, "cuMemcpyHtoD_v2") ||
      !get(memcpyDtoH, "cuMemcpyDtoH_v2") || !get(ctxSynchronize, "cuCtxSynchronize"))
    return fail("the CUDA driver lacks a function seqc needs");
  int device = 0;
  void *context = nullptr;
  if (init(0) != 0 || deviceGet(&device, 0) != 0 || primaryCtxRetain(&context, device) != 0 ||
      ctxSetCurrent(context) != 0)
    return fail("no usable CUDA device (cuInit or the primary context failed)");
  return llvm::Error::success();
}
