#include "core/pool_op.hpp"

#include <ATen/Dispatch.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <vector>

namespace mamlpp {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Planes of [n * C] maps: input H x W, output (H / 2) x (W / 2); `which` holds 0..3 = 2 dy + dx.
struct PoolGeometry {
  int64_t planes, h, w, oh, ow;
};

PoolGeometry geometry(int64_t planes, int64_t h, int64_t w) { return {planes, h, w, h / 2, w / 2}; }

// One output row from input rows r0 and r1. LibTorch's rule, in its scan order: a larger value or
// a NaN (v != v) takes over. Without branches, so that it vectorises (`omp simd`): on activations
// the winner is a coin toss, and the branches' mispredictions made this loop 7% of a step. The
// winners go to 32-bit `at` first: a byte-sized result would make the vector 16 outputs wide,
// wider than most rows here (14, 7, 3), which would then all take the scalar remainder.
template <class T>
void pool_row(const T* __restrict r0, const T* __restrict r1, T* __restrict out, int32_t* __restrict at,
              int64_t ow) {
#pragma omp simd
  for (int64_t j = 0; j < ow; ++j) {
    T best = r0[2 * j];
    int32_t k = 0;
    const T v1 = r0[2 * j + 1], v2 = r1[2 * j], v3 = r1[2 * j + 1];
    const bool t1 = (v1 > best) | (v1 != v1);
    best = t1 ? v1 : best;
    k = t1 ? 1 : k;
    const bool t2 = (v2 > best) | (v2 != v2);
    best = t2 ? v2 : best;
    k = t2 ? 2 : k;
    const bool t3 = (v3 > best) | (v3 != v3);
    best = t3 ? v3 : best;
    k = t3 ? 3 : k;
    out[j] = best;
    at[j] = k;
  }
}

template <class T>
void pool(const T* x, T* y, uint8_t* which, const PoolGeometry& g) {
  std::vector<int32_t> at(static_cast<size_t>(g.ow));
  for (int64_t p = 0; p < g.planes; ++p) {
    const T* in = x + p * g.h * g.w;
    for (int64_t i = 0; i < g.oh; ++i) {
      const T* r0 = in + 2 * i * g.w;
      const int64_t o = (p * g.oh + i) * g.ow;
      pool_row(r0, r0 + g.w, y + o, at.data(), g.ow);
      std::copy(at.begin(), at.end(), which + o);
    }
  }
}

// One window row of scatter: each value to the input that won, zeros to the other three (so no
// separate pass zeroes the map first). The winners come as 32-bit `at`, as in pool_row.
template <class T>
void scatter_row(const T* __restrict g_out, const int32_t* __restrict at, T* __restrict r0, T* __restrict r1,
                 int64_t ow) {
#pragma omp simd
  for (int64_t j = 0; j < ow; ++j) {
    const T v = g_out[j], zero = 0;
    const int32_t k = at[j];
    const T a = k == 0 ? v : zero, b = k == 1 ? v : zero, c = k == 2 ? v : zero, d = k == 3 ? v : zero;
    r0[2 * j] = a;
    r0[2 * j + 1] = b;
    r1[2 * j] = c;
    r1[2 * j + 1] = d;
  }
}

// One window row of gather: the value at each winner.
template <class T>
void gather_row(const T* __restrict r0, const T* __restrict r1, const int32_t* __restrict at, T* __restrict g_out,
                int64_t ow) {
#pragma omp simd
  for (int64_t j = 0; j < ow; ++j) {
    const int32_t k = at[j];
    const T a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1];  // loads first: no branch
    const T top = k == 0 ? a : b, bottom = k == 2 ? c : d;
    g_out[j] = k < 2 ? top : bottom;
  }
}

// g [planes, oh, ow] -> [planes, h, w]: each value to the input that won, zeros elsewhere (an odd
// map's last row and column belong to no window).
template <class T>
void scatter(const T* g_out, const uint8_t* which, T* g_in, const PoolGeometry& g) {
  std::vector<int32_t> at(static_cast<size_t>(g.ow));
  for (int64_t p = 0; p < g.planes; ++p) {
    T* plane = g_in + p * g.h * g.w;
    for (int64_t i = 0; i < g.oh; ++i) {
      const int64_t o = (p * g.oh + i) * g.ow;
      std::copy(which + o, which + o + g.ow, at.begin());
      T* r0 = plane + 2 * i * g.w;
      scatter_row(g_out + o, at.data(), r0, r0 + g.w, g.ow);
      if (g.w % 2 != 0) r0[g.w - 1] = r0[2 * g.w - 1] = T(0);
    }
    if (g.h % 2 != 0) std::fill(plane + (g.h - 1) * g.w, plane + g.h * g.w, T(0));
  }
}

// The adjoint of scatter: [planes, h, w] -> [planes, oh, ow], the value at each winner.
template <class T>
void gather(const T* g_in, const uint8_t* which, T* g_out, const PoolGeometry& g) {
  std::vector<int32_t> at(static_cast<size_t>(g.ow));
  for (int64_t p = 0; p < g.planes; ++p) {
    for (int64_t i = 0; i < g.oh; ++i) {
      const int64_t o = (p * g.oh + i) * g.ow;
      std::copy(which + o, which + o + g.ow, at.begin());
      const T* r0 = g_in + p * g.h * g.w + 2 * i * g.w;
      gather_row(r0, r0 + g.w, at.data(), g_out + o, g.ow);
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
