#include "core/backbone.hpp"

namespace mamlpp {

namespace {

// A [F] tensor shared by all tasks becomes [T*F] in the task-folded channel layout; a [T*F]
// tensor (per-task statistics) is already there.
at::Tensor tile(const at::Tensor& t, int64_t tasks, int64_t channels) {
  if (!t.defined()) return t;
  return t.numel() == channels ? (tasks == 1 ? t : t.repeat({tasks})) : t;
}

at::Tensor batch_norm(const at::Tensor& h, const BnLayer& layer, const BnSpec& spec, int64_t tasks) {
  const int64_t f = layer.gamma.numel();
  const at::Tensor gamma = tile(layer.gamma, tasks, f);
  const at::Tensor beta = tile(layer.beta, tasks, f);
  at::Tensor out;
  switch (spec.mode) {
    case BnMode::Batch:
      out = at::batch_norm(h, gamma, beta, {}, {}, /*training=*/true, kBnMomentum, kBnEps,
                           /*cudnn_enabled=*/true);
      break;
    case BnMode::Given:
      out = at::batch_norm(h, gamma, beta, tile(layer.mean, tasks, f), tile(layer.var, tasks, f),
                           /*training=*/false, kBnMomentum, kBnEps, /*cudnn_enabled=*/true);
      break;
    case BnMode::Reference: {
      // Statistics of the leading rows (the support set), applied to every row.
      const at::Tensor ref = h.narrow(0, 0, spec.reference_rows);
      const at::Tensor mean = ref.mean({0, 2, 3}, /*keepdim=*/true);
      const at::Tensor var = (ref - mean).pow(2).mean({0, 2, 3}, /*keepdim=*/true);
      out = (h - mean) * at::rsqrt(var + kBnEps) * gamma.view({1, -1, 1, 1}) +
            beta.view({1, -1, 1, 1});
      break;
    }
  }
  if (spec.observe != nullptr) {
    const at::Tensor src = spec.mode == BnMode::Reference ? h.narrow(0, 0, spec.reference_rows) : h;
    at::NoGradGuard no_grad;
    const at::Tensor d = src.detach();
    const at::Tensor mean = d.mean({0, 2, 3});
    const at::Tensor var = (d - mean.view({1, -1, 1, 1})).pow(2).mean({0, 2, 3});
    spec.observe->mean.push_back(mean.view({tasks, f}));
    spec.observe->var.push_back(var.view({tasks, f}));
    spec.observe->count.push_back(d.size(0) * d.size(2) * d.size(3));
  }
  return out;
}

}  // namespace

at::Tensor forward(const Config& cfg, const at::Tensor& x, const std::vector<at::Tensor>& w,
                   const BnSpec& bn) {
  const int64_t tasks = x.size(0);
  const int64_t n = x.size(1);
  // [T, n, C, H, W] -> [n, T*C, H, W]: tasks folded into channels.
  at::Tensor h = tasks == 1 ? x.select(0, 0)
                            : x.transpose(0, 1).reshape({n, tasks * x.size(2), x.size(3), x.size(4)});
  const int64_t stride = cfg.max_pool ? 1 : 2;
  for (int32_t s = 0; s < cfg.num_stages; ++s) {
    const at::Tensor& weight = w[2 * s];  // [T, F, Cin, 3, 3]
    const at::Tensor& bias = w[2 * s + 1];  // [T, F]
    h = at::conv2d(h, weight.reshape({-1, weight.size(2), 3, 3}), bias.reshape({-1}), {stride, stride},
                   {1, 1}, {1, 1}, tasks);
    h = batch_norm(h, bn.layers[s], bn, tasks);
    h = at::leaky_relu(h, kLeakySlope);
    if (cfg.max_pool) h = at::max_pool2d(h, {2, 2}, {2, 2});
  }
  // Strided variant: global average pool; max-pool variant: flatten the remaining map.
  at::Tensor features = cfg.max_pool ? h.reshape({n, tasks, -1}) : h.mean({2, 3}).view({n, tasks, -1});
  features = features.transpose(0, 1);  // [T, n, D]
  const at::Tensor& head_w = w[2 * cfg.num_stages];      // [T, N, D]
  const at::Tensor& head_b = w[2 * cfg.num_stages + 1];  // [T, N]
  return at::baddbmm(head_b.unsqueeze(1), features, head_w.transpose(1, 2));
}

at::Tensor task_cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  const int64_t tasks = logits.size(0), n = logits.size(1);
  return at::cross_entropy_loss(logits.reshape({tasks * n, -1}), labels.reshape({-1}), {},
                                at::Reduction::None)
      .view({tasks, n})
      .mean(1);
}

at::Tensor task_accuracy(const at::Tensor& logits, const at::Tensor& labels) {
  return logits.argmax(-1).eq(labels).to(logits.scalar_type()).mean(1);
}

}  // namespace mamlpp
