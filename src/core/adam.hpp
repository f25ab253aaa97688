// Adam over a list of tensors, written out so that its state (moments, step count) is plain
// tensors the file format can save and restore exactly.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace mamlpp {

struct AdamState {
  std::vector<at::Tensor> m, v;  // first and second moments, shaped like the parameters
  int64_t steps = 0;
};

constexpr double kAdamEps = 1e-8;

// Zero moments shaped like `params`.
AdamState adam_init(const std::vector<at::Tensor>& params);

// One in-place Adam step (PyTorch's formulation, bias-corrected), using multi-tensor kernels so
// the update is a handful of launches whatever the number of tensors.
void adam_step(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
               AdamState& state, double lr, double beta1, double beta2, double eps = kAdamEps);

}  // namespace mamlpp
