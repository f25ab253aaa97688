#include "core/adam.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "common/error.hpp"

namespace mamlpp {

AdamState adam_init(const std::vector<at::Tensor>& params) {
  AdamState s;
  for (const at::Tensor& p : params) {
    s.m.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous).detach());
    s.v.push_back(at::zeros_like(p, at::MemoryFormat::Contiguous).detach());
  }
  return s;
}

AdamResult adam_next(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
                     const AdamState& s, double lr, double beta1, double beta2, double eps) {
  at::NoGradGuard no_grad;
  if (s.steps == std::numeric_limits<int64_t>::max())
    throw numerical_error("Adam's step count is at its limit (2^63 - 1)");
  AdamResult out;
  out.state.steps = s.steps + 1;
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(out.state.steps));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(out.state.steps));
  const double step_size = lr / bc1;
  // LibTorch would refuse the scalar half-way through the kernels; say what to change instead.
  if (!params.empty() && params.front().scalar_type() == at::kFloat &&
      !(std::fabs(step_size) <= std::numeric_limits<float>::max()))
    throw numerical_error("the Adam step size meta_lr / (1 - adam_beta1^t) = " + std::to_string(step_size) +
                          " does not fit in float32; lower meta_lr");
  std::vector<at::Tensor> p;
  p.reserve(params.size());
  for (const at::Tensor& t : params) p.push_back(t.detach());
  out.state.m = at::_foreach_mul(s.m, beta1);
  at::_foreach_add_(out.state.m, grads, 1.0 - beta1);
  out.state.v = at::_foreach_mul(s.v, beta2);
  at::_foreach_addcmul_(out.state.v, grads, grads, 1.0 - beta2);
  std::vector<at::Tensor> denom = at::_foreach_sqrt(out.state.v);
  at::_foreach_div_(denom, std::sqrt(bc2));
  at::_foreach_add_(denom, eps);
  out.params = at::_foreach_addcdiv(p, out.state.m, denom, -step_size);
  return out;
}

}  // namespace mamlpp
