#include "core/learner.hpp"

#include <algorithm>

#include "core/budget.hpp"

namespace mamlpp {

Learner::Learner(Config cfg, std::vector<at::Tensor> fast, BnSpec bn)
    : cfg_(std::move(cfg)), fast_(std::move(fast)), bn_(std::move(bn)) {
  bn_.observe = nullptr;
  if (bn_.mode != BnMode::Given) return;
  // Given statistics make batch norm an affine map per channel, so it folds into the convolution
  // (or linear layer) before it once, here: gamma (conv(x, w) + b - mean) rstd + beta = conv(x, w s) + (b - mean) s
  // + beta with s = gamma rstd. Each prediction then skips a pass over every activation map.
  at::NoGradGuard no_grad;
  for (size_t s = 0; s < bn_.layers.size(); ++s) {
    const BnLayer& l = bn_.layers[s];
    const at::Tensor scale = l.gamma * at::rsqrt(l.var + kBnEps);  // [F]
    at::Tensor& w = fast_[2 * s];                                   // [1, F, C, 3, 3] or [1, h, in]
    at::Tensor& b = fast_[2 * s + 1];                               // [1, F]
    std::vector<int64_t> per_output(static_cast<size_t>(w.dim()), 1);
    per_output[1] = -1;
    w = w * scale.view(per_output);
    b = (b - l.mean.view({1, -1})) * scale.view({1, -1}) + l.beta.view({1, -1});
  }
  bn_.mode = BnMode::Folded;
  bn_.layers.assign(bn_.layers.size(), BnLayer{});
}

int64_t Learner::chunk_size() const {
  const int64_t per = std::max<int64_t>(1, activation_bytes_per_example(cfg_));
  return std::max<int64_t>(1, kPredictChunkBytes / per);
}

at::Tensor Learner::predict(const at::Tensor& x) const {
  at::NoGradGuard no_grad;
  const int64_t n = x.size(0);
  auto run = [&](const at::Tensor& part) { return forward(cfg_, part.unsqueeze(0), fast_, bn_).select(0, 0); };
  if (bn_.mode == BnMode::Batch) {
    // Transductive: the examples of one call are normalised together, so they cannot be split.
    check_call_activations(cfg_, n, 1, "maml_predict",
                           "with bn_stats transductive the examples of one call are normalised together; "
                           "predict fewer at once");
    return run(x);
  }
  // Each example's logits depend on it alone: bounded chunks give the same logits with bounded
  // memory, however many examples a call has.
  const int64_t chunk = chunk_size();
  if (n <= chunk) return run(x);
  std::vector<at::Tensor> parts;
  for (int64_t first = 0; first < n; first += chunk) parts.push_back(run(x.narrow(0, first, std::min(chunk, n - first))));
  return at::cat(parts);
}

}  // namespace mamlpp
