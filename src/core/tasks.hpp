// Meta-batches as tensors, and their construction from caller memory (validated on the host, so a
// bad label or a NaN pixel is refused before any work or any device transfer).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "core/config.hpp"

namespace mamlpp {

// support_x [T, n_s, example_shape...]; support_y: labels [T, n_s] (int64) for classification, or
// float targets [T, n_s, n_outputs] for regression; query likewise, or undefined.
struct TaskTensors {
  at::Tensor support_x, support_y, query_x, query_y;
  int64_t num_tasks() const { return support_x.size(0); }
  bool has_query() const { return query_x.defined(); }
  // Tasks [first, first + count) as their own batch (views, no copy).
  TaskTensors slice(int64_t first, int64_t count) const;
};

// Host arrays in the C ABI's layout. The query pointers may be NULL with query_size 0. A
// classifier's tasks carry labels (*_y), a regression model's float targets (*_t, n_outputs per
// example); the other pair must be NULL.
struct HostTasks {
  int64_t num_tasks = 0, support_size = 0, query_size = 0;
  const float* support_x = nullptr;
  const int32_t* support_y = nullptr;
  const float* query_x = nullptr;
  const int32_t* query_y = nullptr;
  const float* support_t = nullptr;
  const float* query_t = nullptr;
};

// Checks pointers, sizes, that the targets suit the task kind, label range and finiteness, then
// copies each array to `device` in `dtype` with one transfer. Throws Error(InvalidArgument |
// Numerical).
TaskTensors to_task_tensors(const Config& cfg, const HostTasks& host, bool need_query,
                            at::Device device, at::ScalarType dtype);

// Checks and copies n examples (n * example_numel floats) to [n, example_shape...] on `device`.
at::Tensor to_example_tensor(const Config& cfg, const float* x, int64_t n, at::Device device,
                           at::ScalarType dtype);

}  // namespace mamlpp
