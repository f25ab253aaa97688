// The custom 3x3 convolution (core/conv_op) against LibTorch's conv2d: values and first, second
// and third derivatives in every argument, grouped and not, one input channel and several, in
// double precision; float32 within rounding.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <ATen/CPUGeneratorImpl.h>

#include "core/conv_op.hpp"

using namespace mamlpp;

namespace {

using ConvFn = std::function<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t)>;

at::Tensor native(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, int64_t groups) {
  return at::conv2d(x, w, b, {1, 1}, {1, 1}, {1, 1}, groups);
}

at::Tensor custom(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, int64_t groups) {
  return conv3x3_op(x, w, b, groups);
}

struct Case {
  int64_t n, groups, cin, cout, h, w;
  bool bias;
};

// Everything second-order MAML differentiates: y; the first derivatives (gx, gw, gb) of
// <gy, y>, without and with a graph; the gradients of <u, gx> + <v, gw> + <c, gb> with respect to gy, x, w; and one
// third derivative, the gradient of <r, that gradient in w> with respect to x and gy.
std::vector<at::Tensor> run(const ConvFn& fn, const Case& c, at::Generator& gen, at::ScalarType dtype) {
  auto rnd = [&](std::vector<int64_t> shape) {
    return at::empty(shape, at::TensorOptions(dtype)).normal_(0, 1, gen).requires_grad_(true);
  };
  const at::Tensor x = rnd({c.n, c.groups * c.cin, c.h, c.w});
  const at::Tensor w = rnd({c.groups * c.cout, c.cin, 3, 3});
  const at::Tensor b = c.bias ? rnd({c.groups * c.cout}) : at::Tensor();
  const at::Tensor gy = rnd({c.n, c.groups * c.cout, c.h, c.w});
  const at::Tensor u = rnd({c.n, c.groups * c.cin, c.h, c.w}).detach();
  const at::Tensor v = rnd({c.groups * c.cout, c.cin, 3, 3}).detach();
  const at::Tensor cb = rnd({c.groups * c.cout}).detach();
  const at::Tensor r = rnd({c.groups * c.cout, c.cin, 3, 3}).detach();

  const at::Tensor y = fn(x, w, b, c.groups);
  std::vector<at::Tensor> wrt{x, w};
  if (c.bias) wrt.push_back(b);
  // Once without a graph (adaptation's backward pass: one kernel call for both gradients), then
  // with one, to be differentiated again.
  const auto plain = torch::autograd::grad({(y * gy).sum()}, wrt, {}, true, false);
  const auto first = torch::autograd::grad({(y * gy).sum()}, wrt, {}, true, true);
  at::Tensor second_loss = (first[0] * u).sum() + (first[1] * v).sum();
  if (c.bias) second_loss = second_loss + (first[2] * cb).sum();
  const auto second = torch::autograd::grad({second_loss}, {gy, x, w}, {}, true, true, /*allow_unused=*/true);
  const auto third = torch::autograd::grad({(second[2] * r).sum()}, {x, gy}, {}, false, false, true);

  std::vector<at::Tensor> out{y.detach()};
  for (const auto* list : {&plain, &first, &second, &third})
    for (const at::Tensor& t : *list) out.push_back(t.defined() ? t.detach() : at::Tensor());
  return out;
}

void expect_same(const Case& c, at::ScalarType dtype, double tol) {
  at::Generator g1 = at::detail::createCPUGenerator(11), g2 = at::detail::createCPUGenerator(11);
  const auto want = run(&native, c, g1, dtype), got = run(&custom, c, g2, dtype);
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    SCOPED_TRACE("result " + std::to_string(k) + " of n=" + std::to_string(c.n) + " groups=" +
                 std::to_string(c.groups) + " cin=" + std::to_string(c.cin));
    ASSERT_EQ(got[k].defined(), want[k].defined());
    if (!want[k].defined()) continue;
    ASSERT_EQ(got[k].sizes(), want[k].sizes());
    const double scale = std::max(1.0, want[k].abs().max().item<double>());
    EXPECT_LE((got[k] - want[k]).abs().max().item<double>(), tol * scale);
  }
}

}  // namespace

TEST(ConvOp, MatchesLibTorchToThirdOrderInDoublePrecision) {
  for (const Case& c : {Case{3, 1, 4, 5, 6, 6, true},  // the backbone's looped layers
                        Case{2, 3, 2, 4, 5, 7, true},  // tasks folded into groups, a non-square map
                        Case{4, 1, 1, 6, 8, 8, true},  // one input channel (the first layer)
                        Case{1, 2, 3, 3, 3, 3, false},  // one example, no bias, a 3x3 map
                        Case{2, 1, 2, 2, 1, 1, true}})  // a 1x1 map: only the kernel's centre touches it
    expect_same(c, at::kDouble, 1e-12);
}

TEST(ConvOp, MatchesLibTorchInSinglePrecision) {
  // float32 runs on oneDNN; LibTorch's own conv2d too, with another order of summation.
  for (const Case& c : {Case{5, 1, 16, 16, 14, 14, true}, Case{3, 2, 1, 8, 10, 10, true}})
    expect_same(c, at::kFloat, 2e-4);
}

TEST(ConvOp, AppliesOnlyWhereItShould) {
  const at::Tensor w = at::zeros({4, 2, 3, 3});
  EXPECT_TRUE(conv3x3_op_applies(at::zeros({1, 2, 5, 5}), w));
  EXPECT_TRUE(conv3x3_op_applies(at::zeros({1, 2, 5, 5}, at::kDouble), w.to(at::kDouble)));
  EXPECT_FALSE(conv3x3_op_applies(at::zeros({1, 2, 5, 5}, at::kHalf), w));
  EXPECT_FALSE(conv3x3_op_applies(at::zeros({2, 5, 5}), w));
  EXPECT_FALSE(conv3x3_op_applies(at::zeros({1, 2, 5, 5}), at::zeros({4, 2, 5, 5})));
}

// The first layer's weight gradient (core/conv_kernels) walks each map as one long loop, where
// the zero-padded row ends meet input values of the next row: an infinite input must still give
// LibTorch's gradient (+Inf where a product has it, finite elsewhere), not 0 * Inf = NaN.
TEST(ConvOp, FirstLayerWeightGradientWithAnInfiniteInput) {
  // Pixels on the map's edges, where some of the nine taps never reach them.
  for (const auto& at_ : std::vector<std::pair<int64_t, int64_t>>{{2, 0}, {0, 0}, {4, 6}, {1, 6}}) {
    at::Tensor x = at::rand({2, 1, 5, 7}, at::kDouble);
    x[1][0][at_.first][at_.second] = std::numeric_limits<double>::infinity();
    const at::Tensor w = at::rand({3, 1, 3, 3}, at::kDouble).requires_grad_(true);
    const at::Tensor gy = at::ones({2, 3, 5, 7}, at::kDouble);
    const at::Tensor want = torch::autograd::grad({(native(x, w, at::Tensor(), 1) * gy).sum()}, {w})[0];
    const at::Tensor got = torch::autograd::grad({(custom(x, w, at::Tensor(), 1) * gy).sum()}, {w})[0];
    SCOPED_TRACE("infinity at row " + std::to_string(at_.first) + ", column " + std::to_string(at_.second));
    EXPECT_FALSE(want.isnan().any().item<bool>());
    ASSERT_TRUE(want.isfinite().any().item<bool>());
    ASSERT_TRUE(want.isinf().any().item<bool>());
    EXPECT_TRUE(at::equal(got.isnan(), want.isnan()));
    EXPECT_TRUE(at::equal(got.isinf(), want.isinf()));
    const at::Tensor finite = want.isfinite();
    EXPECT_LE((got.masked_select(finite) - want.masked_select(finite)).abs().max().item<double>(), 1e-12 * 70);
  }
}
