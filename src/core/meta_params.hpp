// The meta-parameters theta_0 of MAML++ and the buffers that live beside them.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "core/config.hpp"
#include "core/layout.hpp"

namespace mamlpp {

struct MetaParams {
  std::vector<at::Tensor> weights;                    // layout.adapted, no task dimension
  std::vector<at::Tensor> gamma, beta;                // per stage [bn_rows, F] (BNWB)
  std::vector<at::Tensor> running_mean, running_var;  // per stage [bn_rows, F] (BNRS), buffers
  at::Tensor lslr;  // [tensors the inner loop adapts (layout.lslr), inner_steps] (LSLR)

  // What the outer loop updates, in Adam's (and the file's) order: weights, then gamma/beta of
  // each stage, then the LSLR table when it is learned.
  std::vector<at::Tensor> trainable(const Config& cfg) const;
  // Exchanges the trainable tensors with `values` (same order, shapes and flags as trainable()).
  // Only handles move, so it cannot fail half-way: an update computed aside commits atomically.
  void swap_trainable(const Config& cfg, std::vector<at::Tensor>& values) noexcept;
};

// Xavier-uniform conv and linear weights, zero biases, gamma 1, beta 0, running mean 0 / var 1,
// every inner rate = inner_lr. Drawn on the CPU from `seed`, so the same seed gives the same
// initialisation on every device.
MetaParams init_meta_params(const Config& cfg, const Layout& layout, at::Device device,
                            at::ScalarType dtype);


}  // namespace mamlpp
