#include "core/device.hpp"

#include <torch/cuda.h>

#include <string>

#include "core/error.hpp"

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

}  // namespace mamlpp
