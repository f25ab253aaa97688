#include "core/device.hpp"

#include <torch/cuda.h>

#include <atomic>
#include <string>

#include "common/error.hpp"

// The CUDA-only code of the library, each part compiled where CMake found it possible (see
// cmake/MamlppTorch.cmake and src/core/CMakeLists.txt; scripts/test.sh builds both ways):
//   MAMLPP_TORCH_CUDA          the LibTorch has CUDA (c10_cuda): why no GPU is usable, in errors
//   MAMLPP_CUDA_MEMORY_STATS   its caching allocator's statistics API compiles: maml_cuda_memory
#if defined(MAMLPP_TORCH_CUDA) || defined(MAMLPP_CUDA_MEMORY_STATS)
#include <c10/cuda/CUDAFunctions.h>
#endif
#ifdef MAMLPP_CUDA_MEMORY_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace mamlpp {

int32_t cuda_device_count() { return static_cast<int32_t>(torch::cuda::device_count()); }

namespace {

// Why LibTorch sees no GPU, for the error a CUDA request gets.
std::string no_gpu_reason() {
#ifdef MAMLPP_TORCH_CUDA
  // A CUDA build on a machine without a GPU or without NVIDIA's driver: the CUDA runtime says which.
  std::string why = "no CUDA device is visible";
  try {
    c10::cuda::device_count_ensure_non_zero();
  } catch (const c10::Error& e) {
    why = e.what_without_backtrace();
    const auto eol = why.find('\n');
    if (eol != std::string::npos) why.resize(eol);
  }
  return "LibTorch sees no CUDA GPU: this libmamlpp is built with CUDA; the CUDA runtime says: " +
         why + " (CPU models work: MAML_DEVICE_CPU or MAML_DEVICE_AUTO)";
#else
  return "LibTorch sees no CUDA GPU: this libmamlpp is built against a CPU-only LibTorch (README, "
         "\"Build against your own LibTorch\", builds against a CUDA one)";
#endif
}

}  // namespace

at::Device resolve_device(DeviceType type, int32_t index) {
  const int32_t gpus = cuda_device_count();
  switch (type) {
    case DeviceType::Cpu:
      return at::Device(at::kCPU);
    case DeviceType::Auto:
      if (gpus == 0) return at::Device(at::kCPU);
      if (index >= gpus)
        throw device_error("CUDA device " + std::to_string(index) + " requested, but only " +
                           std::to_string(gpus) + " GPU(s) are visible");
      return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
    case DeviceType::Cuda:
      if (gpus == 0) throw device_error("MAML_DEVICE_CUDA requested, but " + no_gpu_reason());
      if (index >= gpus)
        throw device_error("CUDA device " + std::to_string(index) + " requested, but only " +
                           std::to_string(gpus) + " GPU(s) are visible");
      return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw invalid_argument("unknown device type " + std::to_string(static_cast<int32_t>(type)));
}

DeviceMemory cuda_memory(int32_t index, bool reset_peak) {
  const int32_t gpus = cuda_device_count();
  if (index < 0 || index >= gpus)
    throw device_error("CUDA device " + std::to_string(index) + " has no memory statistics: " +
                       (gpus == 0 ? no_gpu_reason() : std::to_string(gpus) + " GPU(s) are visible"));
#ifdef MAMLPP_CUDA_MEMORY_STATS
  namespace alloc = c10::cuda::CUDACachingAllocator;
  // The allocator sizes its per-device tables when CUDA is first used; an empty tensor initialises
  // it without allocating, so a process that has not touched the GPU yet reads zeros, not an error.
  at::empty({0}, at::TensorOptions().device(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index))));
  const auto stats = alloc::getDeviceStats(static_cast<c10::DeviceIndex>(index));
  const auto& bytes = stats.allocated_bytes[0];  // StatType::AGGREGATE: all pools together
  DeviceMemory m;
  m.current_bytes = bytes.current;
  m.peak_bytes = bytes.peak;
  if (reset_peak) alloc::resetPeakStats(static_cast<c10::DeviceIndex>(index));
  return m;
#else
  (void)reset_peak;
  throw unsupported("this libmamlpp was built against a LibTorch whose CUDA allocator statistics it could not "
                    "compile against (see MAMLPP_HAVE_CUDA_MEMORY_STATS in the CMake output)");
#endif
}

namespace {
std::atomic<bool> g_cuda_deterministic{true};
}  // namespace

void set_cuda_deterministic(bool deterministic) {
  g_cuda_deterministic = deterministic;
  at::globalContext().setDeterministicCuDNN(deterministic);
}

void use_cuda_switches() {
  // Shapes repeat every step: let cuDNN find its fastest algorithms once, among the deterministic
  // ones by default, so that on the GPU as on the CPU a seed reproduces a run and training resumed
  // from a file equals training never stopped (docs/DECISIONS.md).
  at::globalContext().setBenchmarkCuDNN(true);
  at::globalContext().setDeterministicCuDNN(g_cuda_deterministic.load());
}

}  // namespace mamlpp
