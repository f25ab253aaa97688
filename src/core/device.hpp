// Resolving MAML_DEVICE_* requests to a LibTorch device.
#pragma once

#include <ATen/ATen.h>

#include "core/config.hpp"

namespace mamlpp {

// AUTO -> CUDA when LibTorch sees a GPU, else CPU. CUDA without a GPU, or an index past the last
// GPU -> Error(Device).
at::Device resolve_device(DeviceType type, int32_t index);

int32_t cuda_device_count();

inline at::ScalarType scalar_type(DType d) { return d == DType::Float64 ? at::kDouble : at::kFloat; }

}  // namespace mamlpp
