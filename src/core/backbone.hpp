// The few-shot backbones as pure functions of explicit weight tensors: the VGG conv stages over
// images, or hidden linear layers over feature vectors (backbone = mlp), then the linear head.
//
// Every adapted tensor carries a leading task dimension T, so the same code adapts one task
// (T = 1, the reference's loop) or a whole meta-batch at once (T = B): tasks are folded into
// channels and each convolution runs as one grouped convolution with groups = T; batch norm then
// sees one channel per (task, filter), which gives per-task statistics for free; the head is a
// batched matrix product.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "core/batch_norm.hpp"
#include "core/config.hpp"

namespace mamlpp {

constexpr double kLeakySlope = 0.01;

// A 3x3 convolution with padding 1: h [n, groups * Cin, H, W], weight [groups * F, Cin, 3, 3].
// On the CPU with stride 1 (float32 or float64): conv3x3_op when differentiated, the fastest
// kernel for the shape without autograd (core/conv_op); otherwise LibTorch's conv2d.
at::Tensor conv3x3(const at::Tensor& h, const at::Tensor& weight, const at::Tensor& bias, int64_t stride,
                   int64_t groups);

// x: [T, n, C, H, W] (conv) or [T, n, D] (mlp); weights: the adapted tensors of the layout, each
// with a leading T. Returns the head's outputs [T, n, head_outputs(cfg)]: logits or values.
at::Tensor forward(const Config& cfg, const at::Tensor& x, const std::vector<at::Tensor>& weights,
                   const BnSpec& bn);

// Per-task mean cross-entropy: logits [T, n, N], labels [T, n] (int64) -> [T].
at::Tensor task_cross_entropy(const at::Tensor& logits, const at::Tensor& labels);

// Per-task mean squared error over examples and outputs: outputs, targets [T, n, M] -> [T].
at::Tensor task_mse(const at::Tensor& outputs, const at::Tensor& targets);

// The task kind's loss: cross-entropy on labels, or MSE on float targets -> [T].
at::Tensor task_loss(const Config& cfg, const at::Tensor& outputs, const at::Tensor& targets);

// Per-task accuracy: -> [T] (same dtype as logits); NaN ("not applicable") for regression.
at::Tensor task_accuracy(const Config& cfg, const at::Tensor& logits, const at::Tensor& labels);

}  // namespace mamlpp
