// The VGG few-shot backbone as a pure function of explicit weight tensors.
//
// Every adapted tensor carries a leading task dimension T, so the same code adapts one task
// (T = 1, the reference's loop) or a whole meta-batch at once (T = B): tasks are folded into
// channels and each convolution runs as one grouped convolution with groups = T; batch norm then
// sees one channel per (task, filter), which gives per-task statistics for free; the head is a
// batched matrix product.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "core/config.hpp"

namespace mamlpp {

// How a batch-norm layer obtains its normalisation statistics in one forward pass.
enum class BnMode {
  Batch,      // statistics of the batch itself (training; transductive evaluation)
  Given,      // statistics supplied by the caller (running statistics; a learner's support stats)
  Reference,  // statistics of the first `reference_rows` examples, applied to all (support stats)
};

// One BN layer's affine row and, for BnMode::Given, its statistics. gamma/beta are [F] (shared by
// all tasks); mean/var are [F] (shared) or [T*F] (per task).
struct BnLayer {
  at::Tensor gamma, beta, mean, var;
};

// Batch statistics observed during a forward pass, detached: per stage mean and biased variance,
// [T, F] each, over `count` values per channel.
struct BnObservation {
  std::vector<at::Tensor> mean, var;
  std::vector<int64_t> count;
};

struct BnSpec {
  BnMode mode = BnMode::Batch;
  std::vector<BnLayer> layers;     // one per stage
  int64_t reference_rows = 0;      // BnMode::Reference
  BnObservation* observe = nullptr;  // when set, record the statistics each stage used
};

constexpr double kBnEps = 1e-5;
constexpr double kBnMomentum = 0.1;
constexpr double kLeakySlope = 0.01;

// x: [T, n, C, H, W]; weights: the adapted tensors of the layout, each with a leading T.
// Returns logits [T, n, n_way].
at::Tensor forward(const Config& cfg, const at::Tensor& x, const std::vector<at::Tensor>& weights,
                   const BnSpec& bn);

// Per-task mean cross-entropy: logits [T, n, N], labels [T, n] (int64) -> [T].
at::Tensor task_cross_entropy(const at::Tensor& logits, const at::Tensor& labels);

// Per-task accuracy: -> [T] (same dtype as logits).
at::Tensor task_accuracy(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace mamlpp
