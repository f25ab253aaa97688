#include "core/learner.hpp"

namespace mamlpp {

Learner::Learner(Config cfg, std::vector<at::Tensor> fast, BnSpec bn)
    : cfg_(std::move(cfg)), fast_(std::move(fast)), bn_(std::move(bn)) {
  bn_.observe = nullptr;
}

at::Tensor Learner::predict(const at::Tensor& x) const {
  at::NoGradGuard no_grad;
  return forward(cfg_, x.unsqueeze(0), fast_, bn_).select(0, 0);
}

}  // namespace mamlpp
