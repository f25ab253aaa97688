#include "core/conv_op.hpp"

#include <ATen/Dispatch.h>
#include <torch/csrc/autograd/custom_function.h>

#include <array>
#include <tuple>

#include "core/conv_kernels.hpp"

namespace mamlpp {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// conv(x, w) + b with one input channel per group, by core/conv_kernels.
at::Tensor single_channel(const at::Tensor& x_in, const at::Tensor& w_in, const at::Tensor& b_in, int64_t groups) {
  const at::Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : b_in;
  at::Tensor y = at::empty({x.size(0), w.size(0), x.size(2), x.size(3)}, x.options());
  const SingleChannelConv geometry{x.size(0), groups, w.size(0) / groups, x.size(2), x.size(3)};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mamlpp_single_channel_conv", [&] {
    single_channel_conv3x3<scalar_t>().forward(x.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                                               b.defined() ? b.data_ptr<scalar_t>() : nullptr,
                                               y.data_ptr<scalar_t>(), geometry);
  });
  return y;
}

// Its weight gradient (oneDNN's runs at 25 GFLOP/s on the first layer's shapes).
at::Tensor single_channel_weight_gradient(const at::Tensor& g_in, const at::Tensor& x_in, at::IntArrayRef w_shape,
                                          int64_t groups) {
  const at::Tensor g = g_in.contiguous(), x = x_in.contiguous();
  at::Tensor gw = at::empty(w_shape, g.options());
  const SingleChannelConv geometry{x.size(0), groups, w_shape[0] / groups, x.size(2), x.size(3)};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mamlpp_single_channel_weight_grad", [&] {
    single_channel_conv3x3<scalar_t>().weight_grad(x.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(),
                                                   gw.data_ptr<scalar_t>(), geometry);
  });
  return gw;
}

bool single_channel_applies(const at::Tensor& x, int64_t cin, int64_t groups) {
  return x.device().is_cpu() && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble) && cin == 1 &&
         x.size(1) == groups;
}

}  // namespace

at::Tensor conv3x3_forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, int64_t groups) {
  // The first layer: oneDNN vectorises over input channels, and there is one (5 GFLOP/s).
  if (single_channel_applies(x, w.size(1), groups)) return single_channel(x, w, b, groups);
  // float32 calls oneDNN directly: LibTorch's dispatcher would send a batch of one to its
  // generic im2col path, 2.5x slower on the 64-channel 14x14 and 7x7 maps of a one-image
  // prediction.
  if (x.device().is_cpu() && x.scalar_type() == at::kFloat && at::hasMKLDNN()) {
    const c10::optional<at::Tensor> bias = b.defined() ? c10::optional<at::Tensor>(b.contiguous()) : c10::nullopt;
    return at::mkldnn_convolution(x.contiguous(), w.contiguous(), bias, {1, 1}, {1, 1}, {1, 1}, groups);
  }
  return at::conv2d(x, w, b, {1, 1}, {1, 1}, {1, 1}, groups);
}

namespace {

// The two gradient maps below run without autograd (inside the ops' forward passes), as
// conv3x3_forward does. Each of the three is linear in each argument, and each one's
// derivatives are the other two (the ops at the end of the file).

// LibTorch's convolution backward kernel (oneDNN's for float32) for one of its two gradients. The
// tensor whose gradient is not asked for only lends its shape, so an uninitialised one stands in.
at::Tensor backward_kernel(const at::Tensor& g, const at::Tensor& x, const at::Tensor& w, int64_t groups,
                           bool input) {
  const std::array<bool, 3> mask{input, !input, false};
  const auto grads = at::convolution_backward(g.contiguous(), x.contiguous(), w.contiguous(), c10::nullopt, {1, 1},
                                              {1, 1}, {1, 1}, /*transposed=*/false, {0, 0}, groups, mask);
  return input ? std::get<0>(grads) : std::get<1>(grads);
}

// d sum(g * conv(x, w)) / dx for x of shape x_shape: the transposed convolution of g with w.
at::Tensor input_gradient(const at::Tensor& g, const at::Tensor& w, at::IntArrayRef x_shape, int64_t groups) {
  return backward_kernel(g, at::empty(x_shape, g.options()), w, groups, /*input=*/true);
}

// d sum(g * conv(x, w)) / dw for w of shape w_shape: the correlation of x with g.
at::Tensor weight_gradient(const at::Tensor& g, const at::Tensor& x, at::IntArrayRef w_shape, int64_t groups) {
  if (single_channel_applies(x, w_shape[1], groups)) return single_channel_weight_gradient(g, x, w_shape, groups);
  return backward_kernel(g, x, at::empty(w_shape, g.options()), groups, /*input=*/false);
}

// Every op saves its two tensor arguments and the group count.
void remember(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b, int64_t groups) {
  ctx->save_for_backward({a, b});
  ctx->saved_data["groups"] = groups;
}

int64_t groups_of(AutogradContext* ctx) { return ctx->saved_data["groups"].toInt(); }

// conv(x, w), and conv(x, w) + b (LibTorch 1.13's custom functions take no undefined inputs).
struct Conv : torch::autograd::Function<Conv> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, int64_t groups);
  static variable_list backward(AutogradContext* ctx, variable_list grads);
};
struct ConvBias : torch::autograd::Function<ConvBias> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                            int64_t groups);
  static variable_list backward(AutogradContext* ctx, variable_list grads);
};

// gx = input_gradient(g, w): linear in g and in w.
//   d <u, gx> / dg = conv(u, w);  d <u, gx> / dw = weight_gradient(g, u).
struct ConvInputGrad : torch::autograd::Function<ConvInputGrad> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& g, const at::Tensor& w,
                            const std::vector<int64_t>& x_shape, int64_t groups) {
    remember(ctx, g, w, groups);
    return input_gradient(g, w, x_shape, groups);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads);
};

// gw = weight_gradient(g, x): linear in g and in x.
//   d <v, gw> / dg = conv(x, v);  d <v, gw> / dx = input_gradient(g, v).
struct ConvWeightGrad : torch::autograd::Function<ConvWeightGrad> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& g, const at::Tensor& x,
                            const std::vector<int64_t>& w_shape, int64_t groups) {
    remember(ctx, g, x, groups);
    return weight_gradient(g, x, w_shape, groups);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads);
};

// d <g, conv(x, w)> / dx = input_gradient(g, w);  d <g, conv(x, w)> / dw = weight_gradient(g, x).
variable_list conv_backward(AutogradContext* ctx, const at::Tensor& g) {
  const variable_list saved = ctx->get_saved_variables();
  const at::Tensor &x = saved[0], &w = saved[1];
  const int64_t groups = groups_of(ctx);
  at::Tensor gx, gw;
  if (!at::GradMode::is_enabled() && ctx->needs_input_grad(0) && ctx->needs_input_grad(1)) {
    // Nothing differentiates these gradients again (adaptation, the last backward pass of a
    // meta-gradient): one call computes both, sharing oneDNN's reorders of g.
    const auto both = at::convolution_backward(g.contiguous(), x.contiguous(), w.contiguous(), c10::nullopt, {1, 1},
                                               {1, 1}, {1, 1}, /*transposed=*/false, {0, 0}, groups,
                                               {true, true, false});
    return {std::get<0>(both), std::get<1>(both)};
  }
  if (ctx->needs_input_grad(0)) gx = ConvInputGrad::apply(g, w, x.sizes().vec(), groups);
  if (ctx->needs_input_grad(1)) gw = ConvWeightGrad::apply(g, x, w.sizes().vec(), groups);
  return {gx, gw};
}

at::Tensor Conv::forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, int64_t groups) {
  remember(ctx, x, w, groups);
  return conv3x3_forward(x, w, at::Tensor(), groups);
}

variable_list Conv::backward(AutogradContext* ctx, variable_list grads) {
  variable_list out = conv_backward(ctx, grads[0]);
  out.emplace_back();  // groups
  return out;
}

at::Tensor ConvBias::forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                             int64_t groups) {
  remember(ctx, x, w, groups);
  return conv3x3_forward(x, w, b, groups);
}

variable_list ConvBias::backward(AutogradContext* ctx, variable_list grads) {
  variable_list out = conv_backward(ctx, grads[0]);
  out.push_back(ctx->needs_input_grad(2) ? grads[0].sum({0, 2, 3}) : at::Tensor());
  out.emplace_back();  // groups
  return out;
}

variable_list ConvInputGrad::backward(AutogradContext* ctx, variable_list grads) {
  const variable_list saved = ctx->get_saved_variables();
  const at::Tensor &g = saved[0], &w = saved[1], &u = grads[0];
  const int64_t groups = groups_of(ctx);
  at::Tensor gg, gw;
  if (ctx->needs_input_grad(0)) gg = Conv::apply(u, w, groups);
  if (ctx->needs_input_grad(1)) gw = ConvWeightGrad::apply(g, u, w.sizes().vec(), groups);
  return {gg, gw, at::Tensor(), at::Tensor()};
}

variable_list ConvWeightGrad::backward(AutogradContext* ctx, variable_list grads) {
  const variable_list saved = ctx->get_saved_variables();
  const at::Tensor &g = saved[0], &x = saved[1], &v = grads[0];
  const int64_t groups = groups_of(ctx);
  at::Tensor gg, gx;
  if (ctx->needs_input_grad(0)) gg = Conv::apply(x, v, groups);
  if (ctx->needs_input_grad(1)) gx = ConvInputGrad::apply(g, v, x.sizes().vec(), groups);
  return {gg, gx, at::Tensor(), at::Tensor()};
}

}  // namespace

bool conv3x3_op_applies(const at::Tensor& x, const at::Tensor& weight) {
  return x.device().is_cpu() && x.dim() == 4 && weight.dim() == 4 && weight.size(2) == 3 && weight.size(3) == 3 &&
         (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble);
}

at::Tensor conv3x3_op(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, int64_t groups) {
  return bias.defined() ? ConvBias::apply(x, weight, bias, groups) : Conv::apply(x, weight, groups);
}

}  // namespace mamlpp
