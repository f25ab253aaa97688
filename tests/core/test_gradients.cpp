// The meta-gradients are right: second order against central finite differences in double
// precision, first order against its definition, and per-step BN / LSLR rows only receive
// gradient from the steps that use them.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <ATen/CPUGeneratorImpl.h>

#include "core/backbone.hpp"
#include "core/inner_loop.hpp"
#include "core/layout.hpp"
#include "core/meta_params.hpp"

using namespace mamlpp;

namespace {

// A network small enough for finite differences over every parameter: 2 stages of 2 filters on
// 4x4 images, 2-way, 2 inner steps, LSLR and per-step BN on, double precision.
Config tiny_config() {
  Config c;
  c.n_way = 2;
  c.image_channels = 1;
  c.image_height = 4;
  c.image_width = 4;
  c.num_stages = 2;
  c.num_filters = 2;
  c.inner_steps = 2;
  c.eval_inner_steps = 2;
  c.inner_lr = 0.3f;
  c.learn_inner_lr = true;
  c.per_step_bn = true;
  c.bn_stats = BnStats::Transductive;
  c.dtype = DType::Float64;
  c.seed = 7;
  return c;
}

TaskTensors random_tasks(const Config& c, int64_t tasks, int64_t shots, int64_t queries, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  TaskTensors t;
  const int64_t ns = c.n_way * shots, nq = c.n_way * queries;
  t.support_x = at::empty({tasks, ns, c.image_channels, c.image_height, c.image_width}, opts).normal_(0, 1, gen);
  t.query_x = at::empty({tasks, nq, c.image_channels, c.image_height, c.image_width}, opts).normal_(0, 1, gen);
  t.support_y = at::arange(ns, at::kLong).remainder(c.n_way).repeat({tasks, 1});
  t.query_y = at::arange(nq, at::kLong).remainder(c.n_way).repeat({tasks, 1});
  return t;
}

// Perturb the BN affine rows and LSLR away from their symmetric initial values, so that every
// parameter matters and a mix-up of rows or steps would show.
void perturb(const Config& c, MetaParams& p, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  at::NoGradGuard no_grad;
  for (size_t s = 0; s < p.gamma.size(); ++s) {
    p.gamma[s].add_(at::empty_like(p.gamma[s]).uniform_(-0.3, 0.3, gen));
    p.beta[s].add_(at::empty_like(p.beta[s]).uniform_(-0.3, 0.3, gen));
  }
  p.lslr.add_(at::empty_like(p.lslr).uniform_(-0.05, 0.05, gen));
  (void)c;
}

// tiny_config() whose inner loop adapts the last `layers` layers (0: all), and its parameters,
// perturbed with `seed`.
Config tiny_config_adapting(int32_t layers) {
  Config c = tiny_config();
  c.adapt_last_layers = layers;
  return c;
}

MetaParams perturbed_params(const Config& c, uint64_t seed) {
  MetaParams p = init_meta_params(c, make_layout(c), at::kCPU, at::kDouble);
  perturb(c, p, seed);
  return p;
}

double meta_loss(const Config& c, const MetaParams& p, const TaskTensors& t, const InnerLoopOptions& opt) {
  return inner_loop(c, p, t, opt).task_loss.mean().item<double>();
}

std::vector<at::Tensor> meta_gradient(const Config& c, const MetaParams& p, const TaskTensors& t,
                                      const InnerLoopOptions& opt) {
  const std::vector<at::Tensor> params = p.trainable(c);
  const at::Tensor loss = inner_loop(c, p, t, opt).task_loss.mean();
  std::vector<at::Tensor> g = torch::autograd::grad({loss}, params, {}, false, false, true);
  for (size_t k = 0; k < g.size(); ++k)
    if (!g[k].defined()) g[k] = at::zeros_like(params[k]);
  return g;
}

InnerLoopOptions training_options(const Config& c, bool second_order, std::vector<double> weights) {
  InnerLoopOptions o;
  o.steps = c.inner_steps;
  o.training = true;
  o.second_order = second_order;
  o.query_weights = std::move(weights);
  return o;
}

// Checks every entry of the second-order meta-gradient against central finite differences and
// returns how many it checked.
int64_t check_second_order_by_finite_differences(const Config& c) {
  MetaParams p = init_meta_params(c, make_layout(c), at::kCPU, at::kDouble);
  perturb(c, p, 11);
  const TaskTensors tasks = random_tasks(c, /*tasks=*/2, /*shots=*/2, /*queries=*/2, 5);
  // MSL on with unequal weights: every step's query loss contributes.
  const InnerLoopOptions opt = training_options(c, true, {0.3, 0.7});

  const std::vector<at::Tensor> analytic = meta_gradient(c, p, tasks, opt);
  const std::vector<at::Tensor> params = p.trainable(c);
  EXPECT_EQ(params.size(), analytic.size());
  if (params.size() != analytic.size()) return 0;
  const double h = 1e-6;
  int64_t checked = 0;
  double worst = 0.0;
  for (size_t k = 0; k < params.size(); ++k) {
    at::Tensor flat = params[k].detach().view({-1});
    const at::Tensor a = analytic[k].reshape({-1});
    for (int64_t j = 0; j < flat.numel(); ++j) {
      const double original = flat[j].item<double>();
      flat[j].fill_(original + h);
      const double plus = meta_loss(c, p, tasks, opt);
      flat[j].fill_(original - h);
      const double minus = meta_loss(c, p, tasks, opt);
      flat[j].fill_(original);
      const double fd = (plus - minus) / (2 * h);
      const double an = a[j].item<double>();
      const double err = std::abs(fd - an);
      worst = std::max(worst, err / (1e-4 + std::abs(fd)));
      EXPECT_NEAR(an, fd, 1e-6 + 1e-5 * std::abs(fd)) << "parameter tensor " << k << " element " << j;
      ++checked;
    }
  }
  std::printf("checked %lld meta-gradient entries; worst relative error %.3g\n",
              static_cast<long long>(checked), worst);
  return checked;
}

}  // namespace

TEST(MetaGradient, SecondOrderEqualsCentralFiniteDifferences) {
  EXPECT_EQ(check_second_order_by_finite_differences(tiny_config()), 64 + 16 + 12);  // weights, BNWB, LSLR
}

// ANIL: the inner loop adapts only the last layers; the layers before still receive the outer
// gradient through the query loss (and through the adapted layers' inner gradients).
TEST(MetaGradient, HeadOnlyAdaptationEqualsCentralFiniteDifferences) {
  for (int32_t k : {1, 2}) {
    SCOPED_TRACE("adapt_last_layers = " + std::to_string(k));
    const Config c = tiny_config_adapting(k);
    // The inner-rate table has rows only for the adapted tensors: 2 per layer, 2 steps each.
    EXPECT_EQ(check_second_order_by_finite_differences(c), 64 + 16 + 2 * k * 2);
  }
}

// The layers before the adapted ones keep the meta-weights through every inner step, and the
// adapted ones move; all layers adapted when adapt_last_layers is the layer count, as with 0.
TEST(MetaGradient, HeadOnlyAdaptationKeepsTheBodyAtTheMetaWeights) {
  for (int32_t k : {0, 1, 2, 3}) {
    SCOPED_TRACE("adapt_last_layers = " + std::to_string(k));
    const Config c = tiny_config_adapting(k);
    const MetaParams p = perturbed_params(c, 4);
    const TaskTensors tasks = random_tasks(c, 2, 2, 2, 6);
    for (bool training : {true, false}) {
      InnerLoopOptions opt = training_options(c, true, {0.5, 0.5});
      opt.training = training;
      const InnerLoopResult r = inner_loop(c, p, tasks, opt);
      const size_t first = k == 0 ? 0 : 2 * static_cast<size_t>(3 - k);
      ASSERT_EQ(r.fast.size(), p.weights.size());
      for (size_t t = 0; t < r.fast.size(); ++t) {
        const double moved = (r.fast[t].detach() - p.weights[t].detach().unsqueeze(0)).abs().max().item<double>();
        // (A conv bias before batch norm has no inner gradient: BN subtracts it again.)
        const bool conv_bias = t % 2 == 1 && t < 2 * static_cast<size_t>(c.num_stages);
        if (t < first) {
          EXPECT_EQ(moved, 0.0) << "tensor " << t;
        } else if (!conv_bias) {
          EXPECT_GT(moved, 1e-8) << "tensor " << t;
        }
      }
    }
  }
  const Config all = tiny_config(), three = tiny_config_adapting(3);
  const MetaParams pa = perturbed_params(all, 4), p3 = perturbed_params(three, 4);
  const TaskTensors tasks = random_tasks(all, 2, 2, 2, 6);
  const InnerLoopOptions opt = training_options(all, true, {0.5, 0.5});
  EXPECT_DOUBLE_EQ(meta_loss(all, pa, tasks, opt), meta_loss(three, p3, tasks, opt));
}

TEST(MetaGradient, SecondOrderDiffersFromFirstOrder) {
  // Otherwise the finite-difference test above could pass with create_graph silently off.
  const Config c = tiny_config();
  MetaParams p = init_meta_params(c, make_layout(c), at::kCPU, at::kDouble);
  perturb(c, p, 11);
  const TaskTensors tasks = random_tasks(c, 2, 2, 2, 5);
  const auto second = meta_gradient(c, p, tasks, training_options(c, true, {0.3, 0.7}));
  const auto first = meta_gradient(c, p, tasks, training_options(c, false, {0.3, 0.7}));
  EXPECT_GT((second[0] - first[0]).abs().max().item<double>(), 1e-6);
}

TEST(MetaGradient, FirstOrderMatchesItsDefinition) {
  // First order: theta_{i+1} = theta_i - alpha_i * stop_gradient(g_i). So the gradient w.r.t.
  // theta_0 is dL/dtheta_S, w.r.t. alpha[k][i] it is -<g_i[k], dL/dtheta_S[k]>, and BN rows get
  // gradient only through the query pass.
  const Config c = tiny_config();
  MetaParams p = init_meta_params(c, make_layout(c), at::kCPU, at::kDouble);
  perturb(c, p, 3);
  const TaskTensors tasks = random_tasks(c, 1, 2, 3, 9);
  const std::vector<at::Tensor> got = meta_gradient(c, p, tasks, training_options(c, false, {0.0, 1.0}));

  // The definition, spelled out with the backbone alone.
  const size_t n = p.weights.size();
  std::vector<at::Tensor> theta;
  for (const at::Tensor& w : p.weights) theta.push_back(w.detach().unsqueeze(0).clone());
  std::vector<std::vector<at::Tensor>> g(2);
  for (int i = 0; i < 2; ++i) {
    for (auto& t : theta) t.requires_grad_(true);
    const at::Tensor loss =
        task_cross_entropy(forward(c, tasks.support_x, theta, bn_spec(p, i, BnMode::Batch, true)), tasks.support_y).sum();
    g[i] = torch::autograd::grad({loss}, theta);
    for (size_t k = 0; k < n; ++k) theta[k] = (theta[k] - p.lslr[k][i].detach() * g[i][k]).detach();
  }
  for (auto& t : theta) t.requires_grad_(true);
  at::Tensor gamma1 = p.gamma[0].detach().clone().requires_grad_(true);
  BnSpec query_bn = bn_spec(p, 1, BnMode::Batch, true);
  query_bn.layers[0].gamma = gamma1.select(0, 1);
  const at::Tensor query_loss = task_cross_entropy(forward(c, tasks.query_x, theta, query_bn), tasks.query_y).sum();
  std::vector<at::Tensor> inputs = theta;
  inputs.push_back(gamma1);
  const std::vector<at::Tensor> d = torch::autograd::grad({query_loss}, inputs);

  for (size_t k = 0; k < n; ++k) {
    EXPECT_TRUE(at::allclose(got[k], d[k].squeeze(0), 1e-10, 1e-12)) << "weight " << k;
  }
  const at::Tensor lslr_grad = got.back();  // [tensors, steps]
  for (size_t k = 0; k < n; ++k) {
    for (int i = 0; i < 2; ++i) {
      const double expected = -(g[static_cast<size_t>(i)][k] * d[k]).sum().item<double>();
      EXPECT_NEAR(lslr_grad[static_cast<int64_t>(k)][i].item<double>(), expected, 1e-10) << "rate " << k << "," << i;
    }
  }
  const at::Tensor gamma_grad = got[n];  // stage 0 gamma [rows, F]
  EXPECT_TRUE(at::allclose(gamma_grad[1], d.back()[1], 1e-10, 1e-12));
  EXPECT_EQ(gamma_grad[0].abs().max().item<double>(), 0.0) << "the support pass must not feed gamma in first order";
}

TEST(PerStepBn, StepIOnlyTouchesRowI) {
  // With the loss of step i's query alone, BN rows and LSLR columns after i get no gradient and
  // every row/column up to i does.
  Config c = tiny_config();
  c.inner_steps = 3;
  MetaParams p = init_meta_params(c, make_layout(c), at::kCPU, at::kDouble);
  perturb(c, p, 1);
  const TaskTensors tasks = random_tasks(c, 2, 2, 2, 4);
  for (int target = 0; target < 3; ++target) {
    std::vector<double> w(3, 0.0);
    w[static_cast<size_t>(target)] = 1.0;
    InnerLoopOptions opt = training_options(c, true, w);
    opt.steps = target + 1;  // nothing after the step whose loss we take
    opt.query_weights.resize(static_cast<size_t>(target + 1));
    const auto g = meta_gradient(c, p, tasks, opt);
    const size_t n = p.weights.size();
    for (size_t s = 0; s < p.gamma.size(); ++s) {
      const at::Tensor gamma = g[n + 2 * s], beta = g[n + 2 * s + 1];
      for (int row = 0; row < 3; ++row) {
        const double gm = gamma[row].abs().max().item<double>();
        const double bt = beta[row].abs().max().item<double>();
        if (row <= target) {
          EXPECT_GT(gm, 0.0) << "stage " << s << " gamma row " << row << " unused by step " << target;
          EXPECT_GT(bt, 0.0);
        } else {
          EXPECT_EQ(gm, 0.0) << "stage " << s << " gamma row " << row << " leaked into step " << target;
          EXPECT_EQ(bt, 0.0);
        }
      }
    }
    const at::Tensor lslr = g.back();
    for (int col = 0; col < 3; ++col) {
      const double m = lslr.select(1, col).abs().max().item<double>();
      if (col <= target) EXPECT_GT(m, 0.0); else EXPECT_EQ(m, 0.0);
    }
  }
}

TEST(TaskBatching, BatchedInnerLoopEqualsPerTaskLoopInDouble) {
  for (int32_t layers : {0, 1}) {
    SCOPED_TRACE("adapt_last_layers = " + std::to_string(layers));
    const Config c = tiny_config_adapting(layers);
    const MetaParams p = perturbed_params(c, 2);
    const TaskTensors tasks = random_tasks(c, 3, 2, 2, 8);
    const InnerLoopOptions opt = training_options(c, true, {0.4, 0.6});
    const auto batched = meta_gradient(c, p, tasks, opt);
    std::vector<at::Tensor> looped(batched.size());
    for (int64_t t = 0; t < 3; ++t) {
      const auto g = meta_gradient(c, p, tasks.slice(t, 1), opt);
      for (size_t k = 0; k < g.size(); ++k) looped[k] = t == 0 ? g[k] / 3 : looped[k] + g[k] / 3;
    }
    for (size_t k = 0; k < batched.size(); ++k)
      EXPECT_TRUE(at::allclose(batched[k], looped[k], 1e-9, 1e-12)) << "tensor " << k;
  }
}
