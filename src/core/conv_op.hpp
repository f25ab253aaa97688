// The backbone's 3x3 convolutions (stride 1, padding 1, grouped by task) as custom autograd ops,
// for the CPU. LibTorch differentiates its convolution's backward pass through a transposed
// convolution that its CPU build runs on a generic path (slow_conv_transpose2d): 5x slower than
// oneDNN on these shapes, and 16% of a second-order step's thread time on an Intel Xeon. Here a
// convolution's derivatives are its input gradient and its weight gradient, and theirs are
// convolutions and weight gradients again, so every order of differentiation stays on oneDNN's
// kernels (docs/DECISIONS.md, "CPU speed").
#pragma once

#include <ATen/ATen.h>

namespace mamlpp {

// x [n, G*Cin, H, W] convolved with weight [G*Cout, Cin, 3, 3], plus bias [G*Cout] (may be
// undefined), stride 1, padding 1, G = groups. The same values as at::conv2d. Differentiable to
// any order in x, weight and bias.
at::Tensor conv3x3_op(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, int64_t groups);

// The same convolution without autograd, on the CPU (float32 or float64) or elsewhere: the
// fastest kernel for the shape (one input channel: core/conv_kernels; float32 on a CPU: oneDNN,
// called directly; otherwise LibTorch's conv2d). The forward pass of conv3x3_op and of predictions.
at::Tensor conv3x3_forward(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, int64_t groups);

// Whether conv3x3_op serves x and weight: CPU tensors of float32 or float64, 4 dimensions, 3x3 kernels.
bool conv3x3_op_applies(const at::Tensor& x, const at::Tensor& weight);

}  // namespace mamlpp
