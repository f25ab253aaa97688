// The custom 2x2 max pooling (core/pool_op) against LibTorch's max_pool2d: values, the winner on
// ties and NaNs, and first and second derivatives, on even and odd maps, in double precision.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <ATen/CPUGeneratorImpl.h>

#include "core/pool_op.hpp"

using namespace mamlpp;

namespace {

at::Tensor native(const at::Tensor& x) { return at::max_pool2d(x, {2, 2}, {2, 2}); }

// Values and derivatives: y, d sum(gy y) / dx, and d sum(u dx) / d gy (the derivative of the
// first derivative, what second-order MAML differentiates).
std::vector<at::Tensor> run(at::Tensor (*fn)(const at::Tensor&), const at::Tensor& x0, const at::Tensor& gy0,
                            const at::Tensor& u) {
  const at::Tensor x = x0.detach().requires_grad_(true), gy = gy0.detach().requires_grad_(true);
  const at::Tensor y = fn(x);
  const at::Tensor gx = torch::autograd::grad({(y * gy).sum()}, {x}, {}, true, true)[0];
  const at::Tensor ggy = torch::autograd::grad({(gx * u).sum()}, {gy})[0];
  return {y.detach(), gx.detach(), ggy};
}

void expect_same(const at::Tensor& x) {
  at::Generator gen = at::detail::createCPUGenerator(5);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const at::Tensor gy = at::empty({n, c, h / 2, w / 2}, x.options()).normal_(0, 1, gen);
  const at::Tensor u = at::empty_like(x).normal_(0, 1, gen);
  const auto want = run(&native, x, gy, u), got = run(&max_pool_op, x, gy, u);
  const char* names[] = {"values", "first derivative", "second derivative"};
  for (size_t k = 0; k < 3; ++k) {
    ASSERT_EQ(got[k].sizes(), want[k].sizes()) << names[k];
    EXPECT_TRUE(at::equal(got[k].nan_to_num(7.0), want[k].nan_to_num(7.0))) << names[k];
  }
}

}  // namespace

TEST(PoolOp, MatchesLibTorchOnRandomMaps) {
  at::Generator gen = at::detail::createCPUGenerator(1);
  for (auto shape : std::vector<std::vector<int64_t>>{{5, 4, 28, 28}, {3, 2, 7, 7}, {2, 3, 3, 5}, {1, 1, 2, 2}})
    expect_same(at::empty(shape, at::kDouble).normal_(0, 1, gen));
}

// Omniglot's blank regions give exact ties after a convolution: the winner must be LibTorch's
// (the first in row-major order), or the gradient would go to another pixel than the reference's.
TEST(PoolOp, TiesAndNaNsResolveAsLibTorch) {
  at::Generator gen = at::detail::createCPUGenerator(2);
  const at::Tensor ties = at::empty({4, 3, 8, 8}, at::kDouble).random_(0, 3, gen);
  expect_same(ties);
  at::Tensor nans = at::empty({2, 2, 6, 6}, at::kDouble).normal_(0, 1, gen);
  nans.view({-1}).index_fill_(0, at::tensor({0, 1, 7, 20, 21, 40}, at::kLong), NAN);
  const at::Tensor want = native(nans), got = max_pool_op(nans);
  EXPECT_TRUE(at::equal(got.isnan(), want.isnan()));
  EXPECT_TRUE(at::equal(got.nan_to_num(7.0), want.nan_to_num(7.0)));
}

TEST(PoolOp, Float32AndAppliesOnlyWhereItShould) {
  at::Generator gen = at::detail::createCPUGenerator(3);
  expect_same(at::empty({10, 64, 14, 14}, at::kFloat).normal_(0, 1, gen));
  EXPECT_FALSE(max_pool_op_applies(at::zeros({2, 3, 1, 4})));
  EXPECT_FALSE(max_pool_op_applies(at::zeros({2, 3, 4, 4}, at::kHalf)));
  EXPECT_TRUE(max_pool_op_applies(at::zeros({2, 3, 2, 2})));
}
