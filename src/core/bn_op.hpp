// Training-mode batch norm as one custom autograd op with analytic first and second derivatives,
// for the CPU. LibTorch differentiates its own batch norm a second time through a composite of
// about forty elementwise operators; second-order MAML++ does that for every support pass of
// every inner step. Here each derivative is one fused pass over the activations (plus one for the
// per-channel sums), derived in docs/ALGORITHM.md ("Batch norm's derivatives").
#pragma once

#include <ATen/ATen.h>

namespace mamlpp {

// y = gamma * (x - mean) * rstd + beta for x [n, C, H, W], where mean and the biased variance
// (rstd = 1 / sqrt(var + eps)) are each channel's over the first `reference_rows` examples and
// apply to all n (reference_rows == n: ordinary training-mode batch norm; fewer: the support set's
// statistics applied to [support; query]). gamma and beta are [C]. Differentiable twice in x,
// gamma and beta; a third derivative is refused (Error Unsupported), as nothing here takes one.
at::Tensor batch_norm_op(const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta,
                         int64_t reference_rows, double eps);

// How many times, in this process, a derivative of batch_norm_op was itself recorded for
// differentiation (the backward pass of a second-order meta-gradient builds one per BN layer and
// support pass). For tests: adaptation and first-order steps must build none.
int64_t batch_norm_op_second_order_graphs();

// Whether batch_norm_op serves x: a CPU tensor of float32 or float64 with 4 dimensions.
bool batch_norm_op_applies(const at::Tensor& x);

}  // namespace mamlpp
