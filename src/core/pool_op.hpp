// The backbone's 2x2 max pooling (stride 2, floor) as custom autograd ops, for the CPU. The
// forward pass records which of the four inputs won (one byte per output); every derivative,
// first or second, is then a scatter or a gather through those bytes. Ties and NaNs resolve as
// LibTorch's max_pool2d resolves them (the first maximum in row-major order; a NaN wins).
#pragma once

#include <ATen/ATen.h>

namespace mamlpp {

// x [n, C, H, W] -> [n, C, H / 2, W / 2]. Differentiable to any order.
at::Tensor max_pool_op(const at::Tensor& x);

// Whether max_pool_op serves x: a CPU tensor of float32 or float64 with 4 dimensions, at least 2x2.
bool max_pool_op_applies(const at::Tensor& x);

}  // namespace mamlpp
