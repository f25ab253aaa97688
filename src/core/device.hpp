// Devices: resolving MAML_DEVICE_* requests to a LibTorch device, and what a GPU's memory holds.
#pragma once

#include <ATen/ATen.h>

#include "core/config.hpp"

namespace mamlpp {

// AUTO -> CUDA when LibTorch sees a GPU, else CPU. CUDA without a GPU, or an index past the last
// GPU -> Error(Device).
at::Device resolve_device(DeviceType type, int32_t index);

int32_t cuda_device_count();

// Bytes held by live tensors in LibTorch's CUDA caching allocator on one device: process-wide (every
// model and anything else in the process using LibTorch), without the allocator's cached free blocks
// or the CUDA context. The peak is since the process started or the last reset.
struct DeviceMemory {
  int64_t current_bytes = 0;
  int64_t peak_bytes = 0;
};

// Reads the counters, then (reset_peak) starts a new peak window at the current level.
// No such GPU -> Error(Device); a CUDA build whose allocator API the probe in CMake could not
// compile against -> Error(Unsupported).
DeviceMemory cuda_memory(int32_t index, bool reset_peak);

// The process-wide choice between deterministic (default) and fastest cuDNN algorithms
// (maml_set_cuda_deterministic). Takes effect at once.
void set_cuda_deterministic(bool deterministic);
// A CUDA model calls this when it is created: cuDNN autotuning (shapes repeat every step), among
// the deterministic algorithms unless set_cuda_deterministic(false) said otherwise.
void use_cuda_switches();

inline at::ScalarType scalar_type(DType d) { return d == DType::Float64 ? at::kDouble : at::kFloat; }

}  // namespace mamlpp
