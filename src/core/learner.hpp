// A model adapted to one task: its fast weights theta_S and the batch-norm row and statistics
// prediction uses. Self-contained (copies, not views of the meta-model) and immutable, so any
// number of threads may predict with it at once.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "core/backbone.hpp"
#include "core/config.hpp"

namespace mamlpp {

// The activation memory of one chunk of examples in Learner::predict: 256 MiB.
constexpr int64_t kPredictChunkBytes = int64_t{256} << 20;

class Learner {
 public:
  Learner(Config cfg, std::vector<at::Tensor> fast, BnSpec bn);

  // x: [n, C, H, W] on the learner's device -> logits [n, n_way]. With support or running
  // statistics each example's logits depend on it alone, and the examples run in chunks of
  // chunk_size() (about kPredictChunkBytes of activations each), so any n works in bounded
  // memory. With transductive statistics the call's examples are normalised together: a call
  // whose activations would exceed kMaxCallActivationBytes is refused (Error OutOfMemory).
  at::Tensor predict(const at::Tensor& x) const;

  // Examples per forward pass in predict (for the non-transductive modes).
  int64_t chunk_size() const;

  const Config& config() const { return cfg_; }
  at::Device device() const { return fast_.front().device(); }
  at::ScalarType dtype() const { return fast_.front().scalar_type(); }

 private:
  Config cfg_;
  std::vector<at::Tensor> fast_;  // each [1, ...]; with given statistics, BN folded into the convs
  BnSpec bn_;                     // Folded (running / support statistics) or Batch (transductive)
};

}  // namespace mamlpp
