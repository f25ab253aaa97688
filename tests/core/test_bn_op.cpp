// The fused batch-norm op (core/bn_op) against LibTorch's own: values, first and second
// derivatives in double precision, for batch statistics (LibTorch's at::batch_norm in training
// mode) and for reference-row statistics (the support set's statistics applied to [support;
// query], written with plain differentiable operators), and second derivatives against central
// finite differences of the first.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <ATen/CPUGeneratorImpl.h>

#include "common/error.hpp"
#include "core/bn_kernels.hpp"
#include "core/bn_op.hpp"

using namespace mamlpp;

namespace {

constexpr double kEps = 1e-5;

// The reference: batch statistics through LibTorch's op, reference rows through composites.
at::Tensor native(const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta, int64_t rows) {
  if (rows == x.size(0)) return at::batch_norm(x, gamma, beta, {}, {}, true, 0.1, kEps, false);
  const at::Tensor ref = x.narrow(0, 0, rows);
  const at::Tensor mean = ref.mean({0, 2, 3}, true);
  const at::Tensor var = (ref - mean).pow(2).mean({0, 2, 3}, true);
  return (x - mean) * at::rsqrt(var + kEps) * gamma.view({1, -1, 1, 1}) + beta.view({1, -1, 1, 1});
}

using BnFn = at::Tensor (*)(const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t);
at::Tensor fused(const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& beta, int64_t rows) {
  return batch_norm_op(x, gamma, beta, rows, kEps);
}

struct Inputs {
  at::Tensor x, gamma, beta, gy, u, a, b;
};

// Random inputs, the upstream gradient gy of the output and upstream gradients (u, a, b) of the
// first derivatives with respect to x, gamma and beta.
Inputs inputs(std::vector<int64_t> shape, at::ScalarType dtype, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto o = at::TensorOptions().dtype(dtype);
  const int64_t c = shape[1];
  Inputs in;
  // Channels with different scales and offsets, as activations have.
  in.x = at::empty(shape, o).normal_(0, 1, gen) * at::empty({1, c, 1, 1}, o).uniform_(0.2, 3.0, gen) +
         at::empty({1, c, 1, 1}, o).normal_(0, 2, gen);
  in.gamma = at::empty({c}, o).uniform_(0.5, 1.5, gen);
  in.beta = at::empty({c}, o).normal_(0, 0.5, gen);
  in.gy = at::empty(shape, o).normal_(0, 1, gen);
  in.u = at::empty(shape, o).normal_(0, 1, gen);
  in.a = at::empty({c}, o).normal_(0, 1, gen);
  in.b = at::empty({c}, o).normal_(0, 1, gen);
  for (at::Tensor* t : {&in.x, &in.gamma, &in.beta, &in.gy}) *t = t->detach().requires_grad_(true);
  return in;
}

struct Derivatives {
  at::Tensor y;
  std::vector<at::Tensor> first;   // d sum(gy y) / d (x, gamma, beta)
  std::vector<at::Tensor> second;  // d (u.gx + a.ggamma + b.gbeta) / d (x, gamma, beta, gy)
};

Derivatives derivatives(BnFn fn, const Inputs& in, int64_t rows) {
  Derivatives d;
  d.y = fn(in.x, in.gamma, in.beta, rows);
  d.first = torch::autograd::grad({(d.y * in.gy).sum()}, {in.x, in.gamma, in.beta}, {}, true, true);
  const at::Tensor l2 = (d.first[0] * in.u).sum() + (d.first[1] * in.a).sum() + (d.first[2] * in.b).sum();
  d.second = torch::autograd::grad({l2}, {in.x, in.gamma, in.beta, in.gy}, {}, false, false, true);
  return d;
}

double max_rel(const at::Tensor& got, const at::Tensor& want) {
  if (!want.defined()) return got.defined() ? got.abs().max().item<double>() : 0.0;
  const at::Tensor g = got.defined() ? got : at::zeros_like(want);
  return ((g - want).abs().max() / want.abs().max().clamp_min(1e-30)).item<double>();
}

void expect_same(const Inputs& in, int64_t rows, double tol) {
  const Derivatives want = derivatives(&native, in, rows), got = derivatives(&fused, in, rows);
  EXPECT_LT(max_rel(got.y, want.y), tol) << "values, rows " << rows;
  const char* names[] = {"x", "gamma", "beta", "gy"};
  for (size_t k = 0; k < 3; ++k) EXPECT_LT(max_rel(got.first[k], want.first[k]), tol) << "d/d" << names[k];
  for (size_t k = 0; k < 4; ++k) EXPECT_LT(max_rel(got.second[k], want.second[k]), tol) << "d2/d" << names[k];
}

}  // namespace

TEST(BnOp, BatchStatisticsMatchLibTorchToSecondOrder) {
  expect_same(inputs({5, 4, 6, 6}, at::kDouble, 1), 5, 1e-11);
  expect_same(inputs({1, 3, 5, 5}, at::kDouble, 2), 1, 1e-11);    // one example
  expect_same(inputs({10, 64, 1, 1}, at::kDouble, 3), 10, 1e-11);  // 1x1 maps, as after the last pool
}

TEST(BnOp, ReferenceRowStatisticsMatchComposites) {
  expect_same(inputs({10, 4, 6, 6}, at::kDouble, 4), 5, 1e-11);  // [support; query], 5 + 5
  expect_same(inputs({7, 3, 3, 3}, at::kDouble, 5), 1, 1e-11);
  expect_same(inputs({25, 8, 2, 2}, at::kDouble, 6), 20, 1e-11);
}

TEST(BnOp, Float32MatchesLibTorch) {
  expect_same(inputs({10, 64, 14, 14}, at::kFloat, 7), 10, 2e-4);
  expect_same(inputs({10, 64, 7, 7}, at::kFloat, 8), 5, 2e-4);
}

// The second derivative against central differences of the first, perturbing x, gamma and gy:
// independent of LibTorch's formulas.
TEST(BnOp, SecondDerivativeMatchesFiniteDifferences) {
  for (int64_t rows : {4, 2}) {
    const Inputs in = inputs({4, 2, 3, 3}, at::kDouble, 9 + static_cast<uint64_t>(rows));
    const Derivatives d = derivatives(&fused, in, rows);
    auto l2_at = [&](const at::Tensor& x, const at::Tensor& gamma, const at::Tensor& gy) {
      const at::Tensor xv = x.detach().requires_grad_(true), gv = gamma.detach().requires_grad_(true),
                       bv = in.beta.detach().requires_grad_(true);
      const at::Tensor y = fused(xv, gv, bv, rows);
      const auto g = torch::autograd::grad({(y * gy).sum()}, {xv, gv, bv});
      return ((g[0] * in.u).sum() + (g[1] * in.a).sum() + (g[2] * in.b).sum()).item<double>();
    };
    const double h = 1e-6;
    const at::Tensor x = in.x.detach(), gamma = in.gamma.detach(), gy = in.gy.detach();
    for (int which = 0; which < 3; ++which) {
      const at::Tensor base = which == 0 ? x : which == 1 ? gamma : gy;
      const at::Tensor analytic = which == 0 ? d.second[0] : which == 1 ? d.second[1] : d.second[3];
      for (int64_t i = 0; i < base.numel(); i += std::max<int64_t>(1, base.numel() / 12)) {
        at::Tensor plus = base.clone(), minus = base.clone();
        plus.view({-1})[i] += h;
        minus.view({-1})[i] -= h;
        const double fd = which == 0   ? (l2_at(plus, gamma, gy) - l2_at(minus, gamma, gy)) / (2 * h)
                          : which == 1 ? (l2_at(x, plus, gy) - l2_at(x, minus, gy)) / (2 * h)
                                       : (l2_at(x, gamma, plus) - l2_at(x, gamma, minus)) / (2 * h);
        EXPECT_NEAR(analytic.view({-1})[i].item<double>(), fd, 1e-6 * std::max(1.0, std::abs(fd)))
            << "input " << which << " element " << i << " rows " << rows;
      }
    }
  }
}

TEST(BnOp, ThirdDerivativeIsRefused) {
  const Inputs in = inputs({3, 2, 2, 2}, at::kDouble, 11);
  const at::Tensor y = fused(in.x, in.gamma, in.beta, 3);
  const auto g = torch::autograd::grad({(y * in.gy).sum()}, {in.x}, {}, true, true);
  // A second derivative that keeps its graph (for a third) is refused; one that does not works.
  EXPECT_THROW(torch::autograd::grad({(g[0] * in.u).sum()}, {in.x}, {}, true, true), Error);
  EXPECT_NO_THROW(torch::autograd::grad({(g[0] * in.u).sum()}, {in.x}, {}, true, false));
}

TEST(BnOp, AppliesToCpuFloatImagesOnly) {
  EXPECT_TRUE(batch_norm_op_applies(at::zeros({2, 3, 4, 4})));
  EXPECT_TRUE(batch_norm_op_applies(at::zeros({2, 3, 4, 4}, at::kDouble)));
  EXPECT_FALSE(batch_norm_op_applies(at::zeros({2, 3, 4, 4}, at::kHalf)));
  EXPECT_FALSE(batch_norm_op_applies(at::zeros({2, 3})));
}

// The build the CPU runs (AVX2 + FMA here) against the baseline build, loop by loop, so that the
// baseline, which this machine never dispatches to, is tested too.
TEST(BnOp, BaselineAndDispatchedKernelsAgree) {
  at::Generator gen = at::detail::createCPUGenerator(12);
  for (int64_t ref : {10, 4}) {
    const BnGeometry g{10, 8, 49, ref, kEps};
    auto randn = [&](int64_t n) { return at::empty({n}, at::kDouble).normal_(0, 1, gen); };
    const at::Tensor x = randn(10 * 8 * 49) * 2 + 1, gy = randn(10 * 8 * 49), u = randn(10 * 8 * 49);
    const at::Tensor gamma = randn(8), beta = randn(8), a = randn(8), b = randn(8);
    std::vector<at::Tensor> out[2];
    const BnKernels<double>* k[2] = {&bn_kernels<double>(), &base::kernels<double>()};
    for (int i = 0; i < 2; ++i) {
      at::Tensor y = at::empty_like(x), mean = at::empty_like(gamma), rstd = at::empty_like(gamma);
      at::Tensor gx = at::empty_like(x), gg = at::empty_like(gamma), gb = at::empty_like(gamma);
      at::Tensor ggy = at::empty_like(x), gx2 = at::empty_like(x), gg2 = at::empty_like(gamma);
      k[i]->forward(x.data_ptr<double>(), gamma.data_ptr<double>(), beta.data_ptr<double>(), y.data_ptr<double>(),
                    mean.data_ptr<double>(), rstd.data_ptr<double>(), g);
      k[i]->backward(gy.data_ptr<double>(), x.data_ptr<double>(), mean.data_ptr<double>(), rstd.data_ptr<double>(),
                     gamma.data_ptr<double>(), gx.data_ptr<double>(), gg.data_ptr<double>(), gb.data_ptr<double>(), g);
      k[i]->double_backward(u.data_ptr<double>(), a.data_ptr<double>(), b.data_ptr<double>(), gy.data_ptr<double>(),
                            x.data_ptr<double>(), mean.data_ptr<double>(), rstd.data_ptr<double>(),
                            gamma.data_ptr<double>(), ggy.data_ptr<double>(), gx2.data_ptr<double>(),
                            gg2.data_ptr<double>(), g);
      out[i] = {y, mean, rstd, gx, gg, gb, ggy, gx2, gg2};
    }
    for (size_t j = 0; j < out[0].size(); ++j)
      EXPECT_LT(max_rel(out[0][j], out[1][j]), 1e-12) << "output " << j << ", reference rows " << ref;
  }
}
