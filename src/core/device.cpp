#include "core/device.hpp"

#include <torch/cuda.h>

#include <atomic>
#include <string>

#include "common/error.hpp"

#ifdef MAMLPP_CUDA_MEMORY_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace mamlpp {

int32_t cuda_device_count() { return static_cast<int32_t>(torch::cuda::device_count()); }

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
      if (gpus == 0)
        throw device_error("MAML_DEVICE_CUDA requested, but LibTorch sees no CUDA GPU "
                           "(CPU-only LibTorch build or no GPU on this machine)");
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
                       (gpus == 0 ? std::string("LibTorch sees no CUDA GPU")
                                  : std::to_string(gpus) + " GPU(s) are visible"));
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
