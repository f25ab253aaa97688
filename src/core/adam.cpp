#include "core/adam.hpp"

#include <cmath>

namespace mamlpp {

AdamState adam_init(const std::vector<at::Tensor>& params) {
  AdamState s;
  for (const at::Tensor& p : params) {
    s.m.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous).detach());
    s.v.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous).detach());
  }
  return s;
}

void adam_step(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
               AdamState& s, double lr, double beta1, double beta2, double eps) {
  at::NoGradGuard no_grad;
  s.steps += 1;
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(s.steps));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(s.steps));
  std::vector<at::Tensor> p;
  p.reserve(params.size());
  for (const at::Tensor& t : params) p.push_back(t.detach());
  at::_foreach_mul_(s.m, beta1);
  at::_foreach_add_(s.m, grads, 1.0 - beta1);
  at::_foreach_mul_(s.v, beta2);
  at::_foreach_addcmul_(s.v, grads, grads, 1.0 - beta2);
  std::vector<at::Tensor> denom = at::_foreach_sqrt(s.v);
  at::_foreach_div_(denom, std::sqrt(bc2));
  at::_foreach_add_(denom, eps);
  at::_foreach_addcdiv_(p, s.m, denom, -lr / bc1);
}

}  // namespace mamlpp
