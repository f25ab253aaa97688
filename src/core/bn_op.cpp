#include "core/bn_op.hpp"

#include <torch/csrc/autograd/custom_function.h>

#include <atomic>

#include "common/error.hpp"
#include "core/bn_kernels.hpp"

namespace mamlpp {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::atomic<int64_t> g_second_order_graphs{0};

BnGeometry geometry(const at::Tensor& x, int64_t ref, double eps) {
  return BnGeometry{x.size(0), x.size(1), x.numel() / (x.size(0) * x.size(1)), ref, eps};
}

template <class T>
const T* in(const at::Tensor& t) {
  return t.data_ptr<T>();
}

// The derivative of batch norm as an op of its own, so that autograd can differentiate it again:
// (gy, x, gamma) -> (gx, ggamma, gbeta); mean and rstd are x's, computed by the forward pass.
struct BnBackward : torch::autograd::Function<BnBackward> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& gy_in, const at::Tensor& x,
                               const at::Tensor& gamma, const at::Tensor& mean, const at::Tensor& rstd, int64_t ref,
                               double eps) {
    const at::Tensor gy = gy_in.contiguous();
    at::Tensor gx = at::empty_like(x), ggamma = at::empty_like(gamma), gbeta = at::empty_like(gamma);
    const BnGeometry g = geometry(x, ref, eps);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mamlpp_bn_backward", [&] {
      bn_kernels<scalar_t>().backward(in<scalar_t>(gy), in<scalar_t>(x), in<scalar_t>(mean), in<scalar_t>(rstd),
                                      in<scalar_t>(gamma), gx.data_ptr<scalar_t>(), ggamma.data_ptr<scalar_t>(),
                                      gbeta.data_ptr<scalar_t>(), g);
    });
    ctx->save_for_backward({gy, x, gamma, mean, rstd});
    ctx->saved_data["ref"] = ref;
    ctx->saved_data["eps"] = eps;
    return {gx, ggamma, gbeta};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (at::GradMode::is_enabled())
      throw unsupported("batch norm's second derivative is not differentiable again (a third-order gradient)");
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &gy = saved[0], &x = saved[1], &gamma = saved[2], &mean = saved[3], &rstd = saved[4];
    const BnGeometry g = geometry(x, ctx->saved_data["ref"].toInt(), ctx->saved_data["eps"].toDouble());
    // Unused outputs arrive as zeros (materialised by autograd).
    const at::Tensor u = grads[0].contiguous(), a = grads[1].contiguous(), b = grads[2].contiguous();
    at::Tensor ggy = at::empty_like(x), gx = at::empty_like(x), ggamma = at::empty_like(gamma);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mamlpp_bn_double_backward", [&] {
      bn_kernels<scalar_t>().double_backward(in<scalar_t>(u), in<scalar_t>(a), in<scalar_t>(b), in<scalar_t>(gy),
                                             in<scalar_t>(x), in<scalar_t>(mean), in<scalar_t>(rstd),
                                             in<scalar_t>(gamma), ggy.data_ptr<scalar_t>(), gx.data_ptr<scalar_t>(),
                                             ggamma.data_ptr<scalar_t>(), g);
    });
    return {ggy, gx, ggamma, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

struct BnForward : torch::autograd::Function<BnForward> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& gamma_in,
                            const at::Tensor& beta_in, int64_t ref, double eps) {
    const at::Tensor x = x_in.contiguous(), gamma = gamma_in.contiguous(), beta = beta_in.contiguous();
    at::Tensor y = at::empty_like(x), mean = at::empty_like(gamma), rstd = at::empty_like(gamma);
    const BnGeometry g = geometry(x, ref, eps);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mamlpp_bn_forward", [&] {
      bn_kernels<scalar_t>().forward(in<scalar_t>(x), in<scalar_t>(gamma), in<scalar_t>(beta),
                                     y.data_ptr<scalar_t>(), mean.data_ptr<scalar_t>(), rstd.data_ptr<scalar_t>(), g);
    });
    ctx->save_for_backward({x, gamma});
    ctx->saved_data["mean"] = mean;
    ctx->saved_data["rstd"] = rstd;
    ctx->saved_data["ref"] = ref;
    ctx->saved_data["eps"] = eps;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (at::GradMode::is_enabled()) g_second_order_graphs.fetch_add(1, std::memory_order_relaxed);
    const variable_list saved = ctx->get_saved_variables();
    const variable_list g =
        BnBackward::apply(grads[0], saved[0], saved[1], ctx->saved_data["mean"].toTensor(),
                          ctx->saved_data["rstd"].toTensor(), ctx->saved_data["ref"].toInt(),
                          ctx->saved_data["eps"].toDouble());
    return {g[0], g[1], g[2], at::Tensor(), at::Tensor()};
  }
};

}  // namespace

int64_t batch_norm_op_second_order_graphs() { return g_second_order_graphs.load(); }

bool batch_norm_op_applies(const at::Tensor& x) {
  return x.device().is_cpu() && x.dim() == 4 && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble);
}

at::Tensor batch_norm_op(const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta,
                         int64_t reference_rows, double eps) {
  return BnForward::apply(x, gamma, beta, reference_rows, eps);
}

}  // namespace mamlpp
