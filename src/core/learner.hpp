// A model adapted to one task: its fast weights theta_S and the batch-norm row and statistics
// prediction uses. Self-contained (copies, not views of the meta-model) and immutable, so any
// number of threads may predict with it at once.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "core/backbone.hpp"
#include "core/config.hpp"

namespace mamlpp {

class Learner {
 public:
  Learner(Config cfg, std::vector<at::Tensor> fast, BnSpec bn);

  // x: [n, C, H, W] on the learner's device -> logits [n, n_way].
  at::Tensor predict(const at::Tensor& x) const;

  const Config& config() const { return cfg_; }
  at::Device device() const { return fast_.front().device(); }
  at::ScalarType dtype() const { return fast_.front().scalar_type(); }

 private:
  Config cfg_;
  std::vector<at::Tensor> fast_;  // each [1, ...]
  BnSpec bn_;                     // Given (running / support statistics) or Batch (transductive)
};

}  // namespace mamlpp
