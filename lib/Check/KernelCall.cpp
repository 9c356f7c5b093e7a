//===- KernelCall.cpp - Calling a loaded kernel with the ABI's arrays -----===//
//
// An entry point takes a number of pointer arguments known only at run
// time; the call is dispatched to a function type with exactly that many
// (a CUdeviceptr travels like a pointer in the C ABI of the platforms CUDA
// runs on).
//
//===----------------------------------------------------------------------===//
#include "seqc/Check/KernelCall.h"

#include <cmath>
#include <utility>

using namespace seqc;

namespace {

template <size_t... I>
int callWith(void *entry, bool withStream, int64_t B, int64_t T, void *const *args,
             std::index_sequence<I...>) {
  using Pointer = void *;
  if (withStream) {
    using Entry = int (*)(void *, int64_t, int64_t, decltype((void)I, Pointer())...);
    return reinterpret_cast<Entry>(entry)(nullptr, B, T, args[I]...);
  }
  using Entry = int (*)(int64_t, int64_t, decltype((void)I, Pointer())...);
  return reinterpret_cast<Entry>(entry)(B, T, args[I]...);
}

/// The call with exactly `n` pointers, for n <= N.
template <size_t N>
int dispatch(void *entry, bool withStream, int64_t B, int64_t T, void *const *args, size_t n) {
  if (n == N)
    return callWith(entry, withStream, B, T, args, std::make_index_sequence<N>{});
  if constexpr (N > 0)
    return dispatch<N - 1>(entry, withStream, B, T, args, n);
  return -1;
}

} // namespace

int seqc::callEntryPoint(void *entry, bool withStream, int64_t B, int64_t T,
                         llvm::ArrayRef<void *> pointers) {
  if (pointers.size() > kMaxKernelArgs)
    return -1;
  return dispatch<kMaxKernelArgs>(entry, withStream, B, T, pointers.data(), pointers.size());
}

KernelBuffers KernelBuffers::fromData(const ModelData &data, const ModelResult &result) {
  auto toFloat = [](const Array &a) { return std::vector<float>(a.data.begin(), a.data.end()); };
  auto nans = [](const Array &a) { return std::vector<float>(a.data.size(), std::nanf("")); };
  KernelBuffers b;
  for (const Array &a : data.inputs)
    b.inputs.push_back(toFloat(a));
  for (const Array &a : data.params)
    b.params.push_back(toFloat(a));
  for (const Array &a : data.initialStates)
    b.inits.push_back(toFloat(a));
  for (const Array &a : result.outputs)
    b.outputs.push_back(nans(a));
  for (const Array &a : result.finalStates)
    b.finals.push_back(nans(a));
  return b;
}

int KernelCaller::call(int64_t B, int64_t T, KernelBuffers &buffers) const {
  auto groups = {&buffers.inputs, &buffers.params, &buffers.inits, &buffers.outputs,
                 &buffers.finals};
  std::vector<void *> args;
  if (!cuda) {
    for (auto *group : groups)
      for (std::vector<float> &array : *group)
        args.push_back(array.empty() ? nullptr : array.data());
    return callEntryPoint(entry, /*withStream=*/false, B, T, args);
  }
  std::vector<std::pair<CudaDriver::Ptr, std::vector<float> *>> device;
  auto release = [&] {
    for (auto [pointer, array] : device)
      if (pointer)
        cuda->memFree(pointer);
  };
  for (auto *group : groups)
    for (std::vector<float> &array : *group) {
      CudaDriver::Ptr pointer = 0;
      if (!array.empty() && cuda->memAlloc(&pointer, array.size() * 4) != 0) {
        release();
        return -1;
      }
      device.push_back({pointer, &array});
      if (pointer && cuda->memcpyHtoD(pointer, array.data(), array.size() * 4) != 0) {
        release();
        return -1;
      }
      args.push_back(reinterpret_cast<void *>(pointer));
    }
  int status = callEntryPoint(entry, /*withStream=*/true, B, T, args);
  if (cuda->ctxSynchronize() != 0)
    status = status ? status : -1;
  for (auto [pointer, array] : device)
    if (pointer)
      cuda->memcpyDtoH(array->data(), pointer, array->size() * 4);
  release();
  return status;
}
