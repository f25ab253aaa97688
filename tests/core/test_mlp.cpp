// Vector inputs and regression: the MLP backbone and the MSE loss get the conv classifier's
// proofs. Second-order meta-gradients against central finite differences in float64 (MLP
// classifier, MLP regression with and without batch norm, conv regression), a head-only
// regression learner against a least-squares step worked out by hand, and the loss itself.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "core/backbone.hpp"
#include "core/inner_loop.hpp"
#include "core/layout.hpp"
#include "core/meta_learner.hpp"
#include "core/meta_params.hpp"
#include "random_tasks.hpp"

using namespace mamlpp;

namespace {

// An MLP small enough for finite differences over every parameter: 3 features, hidden layers of
// 4 and 3 units, 2 inner steps, LSLR and per-step BN on, double precision.
Config tiny_mlp(TaskKind kind) {
  Config c;
  c.backbone = Backbone::Mlp;
  c.input_features = 3;
  c.hidden_layers = 2;
  c.hidden_sizes = HiddenSizes{4, 3, 0, 0, 0, 0, 0, 0};
  c.task_kind = kind;
  c.n_way = 2;
  c.n_outputs = 2;
  c.inner_steps = 2;
  c.eval_inner_steps = 2;
  c.inner_lr = 0.3f;
  c.bn_stats = BnStats::Transductive;
  c.dtype = DType::Float64;
  c.device_type = DeviceType::Cpu;
  c.seed = 3;
  return c;
}

using core_test::random_tasks;

MetaParams perturbed_params(const Config& c, uint64_t seed) {
  MetaParams p = init_meta_params(c, make_layout(c), at::kCPU, at::kDouble);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  at::NoGradGuard no_grad;
  for (size_t s = 0; s < p.gamma.size(); ++s) {
    p.gamma[s].add_(at::empty_like(p.gamma[s]).uniform_(-0.3, 0.3, gen));
    p.beta[s].add_(at::empty_like(p.beta[s]).uniform_(-0.3, 0.3, gen));
  }
  // Non-zero biases, so that ReLU's kinks sit away from the evaluation points.
  for (at::Tensor& w : p.weights)
    if (w.dim() == 1) w.add_(at::empty_like(w).uniform_(-0.2, 0.2, gen));
  p.lslr.add_(at::empty_like(p.lslr).uniform_(-0.05, 0.05, gen));
  return p;
}

InnerLoopOptions training(const Config& c) {
  InnerLoopOptions o;
  o.steps = c.inner_steps;
  o.training = true;
  o.second_order = true;
  o.query_weights = {0.3, 0.7};  // MSL: every step's query loss contributes
  return o;
}

double meta_loss(const Config& c, const MetaParams& p, const TaskTensors& t) {
  return inner_loop(c, p, t, training(c)).task_loss.mean().item<double>();
}

// Checks every entry of the second-order meta-gradient against central finite differences;
// returns how many it checked.
int64_t check_by_finite_differences(const Config& c) {
  const MetaParams p = perturbed_params(c, 11);
  const TaskTensors tasks = random_tasks(c, 2, 4, 3, 5);
  const std::vector<at::Tensor> params = p.trainable(c);
  const at::Tensor loss = inner_loop(c, p, tasks, training(c)).task_loss.mean();
  std::vector<at::Tensor> analytic = torch::autograd::grad({loss}, params, {}, false, false, true);
  const double h = 1e-6;
  int64_t checked = 0;
  for (size_t k = 0; k < params.size(); ++k) {
    at::Tensor flat = params[k].detach().view({-1});
    const at::Tensor a = analytic[k].defined() ? analytic[k].reshape({-1}) : at::zeros_like(flat);
    for (int64_t j = 0; j < flat.numel(); ++j) {
      const double original = flat[j].item<double>();
      flat[j].fill_(original + h);
      const double plus = meta_loss(c, p, tasks);
      flat[j].fill_(original - h);
      const double minus = meta_loss(c, p, tasks);
      flat[j].fill_(original);
      const double fd = (plus - minus) / (2 * h);
      EXPECT_NEAR(a[j].item<double>(), fd, 1e-6 + 1e-5 * std::abs(fd)) << "parameter tensor " << k << " element " << j;
      ++checked;
    }
  }
  return checked;
}

}  // namespace

TEST(MlpMetaGradient, ClassifierEqualsCentralFiniteDifferences) {
  const Config c = tiny_mlp(TaskKind::Classification);
  // weights 3*4+4 + 4*3+3 + 3*2+2 = 39, BN 2 rows x (4+3) x 2 = 28, LSLR 6 tensors x 2 steps = 12
  EXPECT_EQ(check_by_finite_differences(c), 39 + 28 + 12);
}

TEST(MlpMetaGradient, RegressionEqualsCentralFiniteDifferences) {
  for (BnStats bn : {BnStats::Transductive, BnStats::Support}) {
    SCOPED_TRACE("bn_stats = " + to_string(bn));
    Config c = tiny_mlp(TaskKind::Regression);
    c.bn_stats = bn;
    EXPECT_EQ(check_by_finite_differences(c), 39 + 28 + 12);
  }
}

TEST(MlpMetaGradient, RegressionWithoutBatchNormEqualsCentralFiniteDifferences) {
  Config c = tiny_mlp(TaskKind::Regression);
  c.batch_norm = false;
  c.activation = Activation::Relu;
  EXPECT_EQ(make_layout(c).bn_affine.size(), 0u);
  EXPECT_EQ(check_by_finite_differences(c), 39 + 12);
}

TEST(MlpMetaGradient, ConvRegressionEqualsCentralFiniteDifferences) {
  Config c = tiny_mlp(TaskKind::Regression);
  c.backbone = Backbone::Conv;
  c.image_height = c.image_width = 4;
  c.num_stages = 2;
  c.num_filters = 2;
  // weights 18+2 + 36+2 + 2*2+2 = 64, BN 2 rows x 2 stages x 2 x 2 = 16, LSLR 12
  EXPECT_EQ(check_by_finite_differences(c), 64 + 16 + 12);
}

TEST(MlpMetaGradient, HeadOnlyRegressionEqualsCentralFiniteDifferences) {
  Config c = tiny_mlp(TaskKind::Regression);
  c.adapt_last_layers = 1;
  EXPECT_EQ(check_by_finite_differences(c), 39 + 28 + 2 * 2);
}

// The loss is the mean squared error over examples and outputs, per task.
TEST(Regression, TaskMseIsTheMeanOverExamplesAndOutputs) {
  const at::Tensor out = at::tensor({1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0}, at::kDouble).view({2, 2, 2});
  const at::Tensor target = at::tensor({1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 3.0}, at::kDouble).view({2, 2, 2});
  const at::Tensor mse = task_mse(out, target);
  EXPECT_DOUBLE_EQ(mse[0].item<double>(), (0.0 + 4.0 + 9.0 + 16.0) / 4);
  EXPECT_DOUBLE_EQ(mse[1].item<double>(), (1.0 + 1.0 + 1.0 + 9.0) / 4);
  const Config c = tiny_mlp(TaskKind::Regression);
  EXPECT_TRUE(std::isnan(task_accuracy(c, out, target)[0].item<double>())) << "regression has no accuracy";
}

// A regression learner adapting only the head (no BN, ReLU) takes gradient steps on a linear
// least-squares problem over fixed features, which can be written out: with features F [n, h],
// outputs Y = F W^T + b and targets T, dMSE/dW = 2/(nM) (Y - T)^T F and dMSE/db = 2/(nM) sum(Y - T).
TEST(Regression, HeadOnlyLearnerTakesTheLeastSquaresSteps) {
  Config c = tiny_mlp(TaskKind::Regression);
  c.batch_norm = false;
  c.activation = Activation::Relu;
  c.adapt_last_layers = 1;
  c.eval_inner_steps = 3;  // one step past training: the last rate is reused
  MetaLearner m(c);
  const TaskTensors t = random_tasks(c, 1, 5, 4, 9);
  const auto learner = m.adapt(t).front();

  const MetaParams& p = m.params();
  const at::Tensor x = t.support_x.select(0, 0), target = t.support_y.select(0, 0);
  at::Tensor f = x;
  for (int l = 0; l < 2; ++l) f = at::relu(at::addmm(p.weights[2 * l + 1].detach(), f, p.weights[2 * l].detach().t()));
  at::Tensor w = p.weights[4].detach().clone(), b = p.weights[5].detach().clone();
  const at::Tensor rates = p.lslr.detach();  // rows: head weight, head bias
  const double scale = 2.0 / (5.0 * c.n_outputs);
  for (int64_t step = 0; step < 3; ++step) {
    const at::Tensor residual = at::addmm(b, f, w.t()) - target;  // [n, M]
    const int64_t col = std::min<int64_t>(step, 1);
    const at::Tensor gw = scale * residual.t().mm(f), gb = scale * residual.sum(0);
    w = w - rates[0][col] * gw;
    b = b - rates[1][col] * gb;
  }
  const at::Tensor query = t.query_x.select(0, 0);
  at::Tensor fq = query;
  for (int l = 0; l < 2; ++l) fq = at::relu(at::addmm(p.weights[2 * l + 1].detach(), fq, p.weights[2 * l].detach().t()));
  const at::Tensor expected = at::addmm(b, fq, w.t());
  const at::Tensor got = learner->predict(query);
  EXPECT_TRUE(at::allclose(got, expected, 1e-10, 1e-12)) << "max difference " << (got - expected).abs().max().item<double>();
  EXPECT_GT((got - at::addmm(p.weights[5].detach(), fq, p.weights[4].detach().t())).abs().max().item<double>(), 1e-3)
      << "the head must have moved";
}

// Regression reports NaN accuracy ("not applicable") and the query MSE as its loss.
TEST(Regression, EvaluateReportsMseAndNoAccuracy) {
  Config c = tiny_mlp(TaskKind::Regression);
  c.bn_stats = BnStats::Support;
  MetaLearner m(c);
  const TaskTensors t = random_tasks(c, 3, 5, 4, 2);
  const Metrics e = m.evaluate(t);
  EXPECT_TRUE(std::isnan(e.accuracy));
  double mse = 0.0;
  const auto learners = m.adapt(t);
  for (int64_t i = 0; i < 3; ++i)
    mse += (learners[static_cast<size_t>(i)]->predict(t.query_x.select(0, i)) - t.query_y.select(0, i)).pow(2).mean().item<double>() / 3;
  EXPECT_NEAR(e.loss, mse, 1e-9 * mse);
  const Metrics s = m.meta_train_step(t);
  EXPECT_TRUE(std::isnan(s.accuracy));
  EXPECT_TRUE(std::isfinite(s.loss));
  EXPECT_EQ(m.step(), 1);
}
