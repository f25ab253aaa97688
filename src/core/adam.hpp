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

// The parameters and state after one Adam step (PyTorch's formulation, bias-corrected), computed
// out of place with multi-tensor kernels: `params` and `state` are not touched, so a caller can
// check the result and then swap it in, or drop it. The new parameters are detached and do not
// require grad. Throws Error(Numerical) when the step count is at its limit or the step size
// lr / (1 - beta1^t) does not fit the parameters' dtype.
struct AdamResult {
  std::vector<at::Tensor> params;
  AdamState state;
};
AdamResult adam_next(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
                     const AdamState& state, double lr, double beta1, double beta2,
                     double eps = kAdamEps);

}  // namespace mamlpp
