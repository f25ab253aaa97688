#include "core/meta_params.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace mamlpp {

std::vector<at::Tensor> MetaParams::trainable(const Config& cfg) const {
  std::vector<at::Tensor> out = weights;
  for (size_t s = 0; s < gamma.size(); ++s) {
    out.push_back(gamma[s]);
    out.push_back(beta[s]);
  }
  if (cfg.learn_inner_lr) out.push_back(lslr);
  return out;
}

void MetaParams::swap_trainable(const Config& cfg, std::vector<at::Tensor>& values) noexcept {
  size_t k = 0;
  for (at::Tensor& w : weights) std::swap(w, values[k++]);
  for (size_t s = 0; s < gamma.size(); ++s) {
    std::swap(gamma[s], values[k++]);
    std::swap(beta[s], values[k++]);
  }
  if (cfg.learn_inner_lr) std::swap(lslr, values[k++]);
}

MetaParams init_meta_params(const Config& cfg, const Layout& layout, at::Device device,
                            at::ScalarType dtype) {
  at::Generator gen = at::detail::createCPUGenerator(cfg.seed);
  const auto cpu = at::TensorOptions().dtype(dtype).device(at::kCPU);
  MetaParams p;
  for (const TensorSpec& spec : layout.adapted) {
    at::Tensor t = at::zeros(spec.shape, cpu);
    if (spec.shape.size() > 1) {
      // Xavier-uniform: bound = sqrt(6 / (fan_in + fan_out)), receptive field included.
      const int64_t receptive = spec.shape.size() == 4 ? spec.shape[2] * spec.shape[3] : 1;
      const double fan_out = static_cast<double>(spec.shape[0] * receptive);
      const double fan_in = static_cast<double>(spec.shape[1] * receptive);
      const double bound = std::sqrt(6.0 / (fan_in + fan_out));
      t.uniform_(-bound, bound, gen);
    }
    p.weights.push_back(t.to(device).requires_grad_(true));
  }
  const int64_t rows = bn_rows(cfg);
  for (int32_t s = 0; cfg.batch_norm && s < body_layers(cfg); ++s) {
    const auto opts = cpu.device(device);
    const int64_t width = layout.bn_affine[2 * static_cast<size_t>(s)].shape[1];
    p.gamma.push_back(at::ones({rows, width}, opts).requires_grad_(true));
    p.beta.push_back(at::zeros({rows, width}, opts).requires_grad_(true));
    p.running_mean.push_back(at::zeros({rows, width}, opts));
    p.running_var.push_back(at::ones({rows, width}, opts));
  }
  p.lslr = at::full({static_cast<int64_t>(layout.lslr.size()), cfg.inner_steps}, cfg.inner_lr,
                    cpu.device(device))
               .requires_grad_(cfg.learn_inner_lr);
  return p;
}

}  // namespace mamlpp
