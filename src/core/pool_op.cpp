#include "core/pool_op.hpp"

#include <ATen/Dispatch.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>

namespace mamlpp {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Planes of [n * C] maps: input H x W, output (H / 2) x (W / 2); `which` holds 0..3 = 2 dy + dx.
struct PoolGeometry {
  int64_t planes, h, w, oh, ow;
};

PoolGeometry geometry(int64_t planes, int64_t h, int64_t w) { return {planes, h, w, h / 2, w / 2}; }

template <class T>
void pool(const T* x, T* y, uint8_t* which, const PoolGeometry& g) {
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* in = x + p * g.h * g.w;
    for (int64_t i = 0; i < g.oh; ++i) {
      const T* r0 = in + 2 * i * g.w;
      const T* r1 = r0 + g.w;
      T* out = y + (p * g.oh + i) * g.ow;
      uint8_t* idx = which + (p * g.oh + i) * g.ow;
      for (int64_t j = 0; j < g.ow; ++j) {
        // LibTorch's rule, in its scan order: a larger value or a NaN takes over.
        const T v[4] = {r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1]};
        T best = v[0];
        uint8_t at = 0;
        for (uint8_t k = 1; k < 4; ++k) {
          if (v[k] > best || std::isnan(v[k])) {
            best = v[k];
            at = k;
          }
        }
        out[j] = best;
        idx[j] = at;
      }
    }
  }
}

// g [planes, oh, ow] -> [planes, h, w]: each value to the input that won, zeros elsewhere.
template <class T>
void scatter(const T* g_out, const uint8_t* which, T* g_in, const PoolGeometry& g) {
  std::fill(g_in, g_in + g.planes * g.h * g.w, T(0));
  for (int64_t p = 0; p < g.planes; ++p) {
    for (int64_t i = 0; i < g.oh; ++i) {
      const int64_t o = (p * g.oh + i) * g.ow;
      T* base = g_in + p * g.h * g.w + 2 * i * g.w;
      for (int64_t j = 0; j < g.ow; ++j) {
        const uint8_t k = which[o + j];
        base[(k >> 1) * g.w + 2 * j + (k & 1)] = g_out[o + j];
      }
    }
  }
}

// The adjoint of scatter: [planes, h, w] -> [planes, oh, ow], the value at each winner.
template <class T>
void gather(const T* g_in, const uint8_t* which, T* g_out, const PoolGeometry& g) {
  for (int64_t p = 0; p < g.planes; ++p) {
    for (int64_t i = 0; i < g.oh; ++i) {
      const int64_t o = (p * g.oh + i) * g.ow;
      const T* base = g_in + p * g.h * g.w + 2 * i * g.w;
      for (int64_t j = 0; j < g.ow; ++j) {
        const uint8_t k = which[o + j];
        g_out[o + j] = base[(k >> 1) * g.w + 2 * j + (k & 1)];
      }
    }
  }
}

at::Tensor run_scatter(const at::Tensor& g_out, const at::Tensor& which, int64_t h, int64_t w) {
  const at::Tensor go = g_out.contiguous();
  at::Tensor g_in = at::empty({go.size(0), go.size(1), h, w}, go.options());
  const PoolGeometry g = geometry(go.size(0) * go.size(1), h, w);
  AT_DISPATCH_FLOATING_TYPES(go.scalar_type(), "mamlpp_pool_scatter", [&] {
    scatter(go.data_ptr<scalar_t>(), which.data_ptr<uint8_t>(), g_in.data_ptr<scalar_t>(), g);
  });
  return g_in;
}

at::Tensor run_gather(const at::Tensor& g_in, const at::Tensor& which) {
  const at::Tensor gi = g_in.contiguous();
  at::Tensor g_out = at::empty({gi.size(0), gi.size(1), gi.size(2) / 2, gi.size(3) / 2}, gi.options());
  const PoolGeometry g = geometry(gi.size(0) * gi.size(1), gi.size(2), gi.size(3));
  AT_DISPATCH_FLOATING_TYPES(gi.scalar_type(), "mamlpp_pool_gather", [&] {
    gather(gi.data_ptr<scalar_t>(), which.data_ptr<uint8_t>(), g_out.data_ptr<scalar_t>(), g);
  });
  return g_out;
}

// Scatter and gather through fixed winners are linear and each other's adjoint, so each one's
// derivative is the other: together they differentiate to any order.
struct Gather;
struct Scatter : torch::autograd::Function<Scatter> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& g_out, const at::Tensor& which, int64_t h,
                            int64_t w) {
    ctx->saved_data["which"] = which;
    return run_scatter(g_out, which, h, w);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads);
};

struct Gather : torch::autograd::Function<Gather> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& g_in, const at::Tensor& which) {
    ctx->saved_data["which"] = which;
    ctx->saved_data["h"] = g_in.size(2);
    ctx->saved_data["w"] = g_in.size(3);
    return run_gather(g_in, which);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {Scatter::apply(grads[0], ctx->saved_data["which"].toTensor(), ctx->saved_data["h"].toInt(),
                           ctx->saved_data["w"].toInt()),
            at::Tensor()};
  }
};

variable_list Scatter::backward(AutogradContext* ctx, variable_list grads) {
  return {Gather::apply(grads[0], ctx->saved_data["which"].toTensor()), at::Tensor(), at::Tensor(), at::Tensor()};
}

struct MaxPool : torch::autograd::Function<MaxPool> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x_in) {
    const at::Tensor x = x_in.contiguous();
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    at::Tensor y = at::empty({n, c, h / 2, w / 2}, x.options());
    at::Tensor which = at::empty({n, c, h / 2, w / 2}, x.options().dtype(at::kByte));
    const PoolGeometry g = geometry(n * c, h, w);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mamlpp_max_pool", [&] {
      pool(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), which.data_ptr<uint8_t>(), g);
    });
    ctx->saved_data["which"] = which;
    ctx->saved_data["h"] = h;
    ctx->saved_data["w"] = w;
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {Scatter::apply(grads[0], ctx->saved_data["which"].toTensor(), ctx->saved_data["h"].toInt(),
                           ctx->saved_data["w"].toInt())};
  }
};

}  // namespace

bool max_pool_op_applies(const at::Tensor& x) {
  return x.device().is_cpu() && x.dim() == 4 && x.size(2) >= 2 && x.size(3) >= 2 &&
         (x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble);
}

at::Tensor max_pool_op(const at::Tensor& x) { return MaxPool::apply(x); }

}  // namespace mamlpp
