#include "core/backbone.hpp"

#include "core/conv_op.hpp"
#include "core/pool_op.hpp"

#include <limits>

namespace mamlpp {

at::Tensor conv3x3(const at::Tensor& h, const at::Tensor& weight, const at::Tensor& bias, int64_t stride,
                   int64_t groups) {
  if (stride == 1 && conv3x3_op_applies(h, weight)) {
    // Differentiated on the CPU: the op whose derivatives of every order stay on fast kernels.
    // Without autograd (predictions): the fastest kernel for the shape (core/conv_op).
    return at::GradMode::is_enabled() ? conv3x3_op(h, weight, bias, groups) : conv3x3_forward(h, weight, bias, groups);
  }
  return at::conv2d(h, weight, bias, {stride, stride}, {1, 1}, {1, 1}, groups);
}

namespace {

at::Tensor activate(const Config& cfg, const at::Tensor& h) {
  return cfg.activation == Activation::Relu ? at::relu(h) : at::leaky_relu(h, kLeakySlope);
}

// The conv stages: x [T, n, C, H, W] -> features [T, n, D].
at::Tensor conv_body(const Config& cfg, const at::Tensor& x, const std::vector<at::Tensor>& w, const BnSpec& bn) {
  const int64_t tasks = x.size(0);
  const int64_t n = x.size(1);
  // [T, n, C, H, W] -> [n, T*C, H, W]: tasks folded into channels.
  at::Tensor h = tasks == 1 ? x.select(0, 0)
                            : x.transpose(0, 1).reshape({n, tasks * x.size(2), x.size(3), x.size(4)});
  const int64_t stride = cfg.max_pool ? 1 : 2;
  for (int32_t s = 0; s < cfg.num_stages; ++s) {
    const at::Tensor& weight = w[2 * s];  // [T, F, Cin, 3, 3]
    const at::Tensor& bias = w[2 * s + 1];  // [T, F]
    h = conv3x3(h, weight.reshape({-1, weight.size(2), 3, 3}), bias.reshape({-1}), stride, tasks);
    if (cfg.batch_norm) h = batch_norm(h, bn.layers[s], bn, tasks);
    // Pooling before the activation: both activations are monotone, so max-pooling commutes with
    // them (the same values, winners and gradients), and the activation then touches a quarter
    // of the map.
    if (cfg.max_pool) h = max_pool_op_applies(h) ? max_pool_op(h) : at::max_pool2d(h, {2, 2}, {2, 2});
    h = activate(cfg, h);
  }
  // Strided variant: global average pool; max-pool variant: flatten the remaining map.
  at::Tensor features = cfg.max_pool ? h.reshape({n, tasks, -1}) : h.mean({2, 3}).view({n, tasks, -1});
  return features.transpose(0, 1);  // [T, n, D]
}

// The hidden layers: x [T, n, D] -> features [T, n, h_last]. Each layer is a batched matrix
// product per task; batch norm sees the tasks folded into channels, as 1x1 maps [n, T*h, 1, 1],
// so per-task statistics and the fused BN op come for free.
at::Tensor mlp_body(const Config& cfg, const at::Tensor& x, const std::vector<at::Tensor>& w, const BnSpec& bn) {
  const int64_t tasks = x.size(0);
  const int64_t n = x.size(1);
  at::Tensor h = x;
  for (int32_t l = 0; l < cfg.hidden_layers; ++l) {
    const at::Tensor& weight = w[2 * l];    // [T, h, in]
    const at::Tensor& bias = w[2 * l + 1];  // [T, h]
    h = at::baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2));  // [T, n, h]
    if (!cfg.batch_norm) {
      h = activate(cfg, h);
      continue;
    }
    const int64_t width = h.size(2);
    at::Tensor folded = h.transpose(0, 1).reshape({n, tasks * width, 1, 1});
    folded = activate(cfg, batch_norm(folded, bn.layers[l], bn, tasks));
    h = folded.view({n, tasks, width}).transpose(0, 1);
  }
  return h;
}

}  // namespace

at::Tensor forward(const Config& cfg, const at::Tensor& x, const std::vector<at::Tensor>& w,
                   const BnSpec& bn) {
  const at::Tensor features = cfg.backbone == Backbone::Mlp ? mlp_body(cfg, x, w, bn) : conv_body(cfg, x, w, bn);
  const int32_t layers = body_layers(cfg);
  const at::Tensor& head_w = w[2 * layers];      // [T, N, D]
  const at::Tensor& head_b = w[2 * layers + 1];  // [T, N]
  return at::baddbmm(head_b.unsqueeze(1), features, head_w.transpose(1, 2));
}

at::Tensor task_cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  const int64_t tasks = logits.size(0), n = logits.size(1);
  return at::cross_entropy_loss(logits.reshape({tasks * n, -1}), labels.reshape({-1}), {},
                                at::Reduction::None)
      .view({tasks, n})
      .mean(1);
}

at::Tensor task_mse(const at::Tensor& outputs, const at::Tensor& targets) {
  return (outputs - targets).pow(2).mean({1, 2});
}

at::Tensor task_loss(const Config& cfg, const at::Tensor& outputs, const at::Tensor& targets) {
  return cfg.task_kind == TaskKind::Regression ? task_mse(outputs, targets) : task_cross_entropy(outputs, targets);
}

at::Tensor task_accuracy(const Config& cfg, const at::Tensor& logits, const at::Tensor& labels) {
  // Regression has no accuracy: NaN, which every layer reports as "not applicable".
  if (cfg.task_kind == TaskKind::Regression)
    return at::full({logits.size(0)}, std::numeric_limits<double>::quiet_NaN(), logits.options());
  return logits.argmax(-1).eq(labels).to(logits.scalar_type()).mean(1);
}

}  // namespace mamlpp
