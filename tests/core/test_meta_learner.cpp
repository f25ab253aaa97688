// The meta-learner as a whole: what a step changes (and what a rejected step does not), seeds,
// batch-norm statistics modes, and the state a file carries.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "core/bn_op.hpp"
#include "core/learner.hpp"
#include "core/meta_learner.hpp"

using namespace mamlpp;

namespace {

// MAMLPP_TEST_DEVICE=cuda runs these tests on the GPU (scripts/gpu-check.sh).
bool on_cuda() {
  const char* d = std::getenv("MAMLPP_TEST_DEVICE");
  return d != nullptr && std::string(d) == "cuda";
}

Config small_config() {
  Config c;
  c.n_way = 3;
  c.image_height = 12;
  c.image_width = 12;
  c.num_stages = 2;
  c.num_filters = 4;
  c.inner_steps = 3;
  c.eval_inner_steps = 3;
  c.first_order_epochs = 0;
  c.device_type = on_cuda() ? DeviceType::Cuda : DeviceType::Cpu;
  c.seed = 1;
  return c;
}

TaskTensors random_tasks(const Config& c, int64_t tasks, int64_t shots, int64_t queries, uint64_t seed,
                         at::ScalarType dtype = at::kFloat) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto opts = at::TensorOptions().dtype(dtype);
  TaskTensors t;
  const int64_t ns = c.n_way * shots, nq = c.n_way * queries;
  t.support_x = at::empty({tasks, ns, c.image_channels, c.image_height, c.image_width}, opts).uniform_(0, 1, gen);
  t.query_x = at::empty({tasks, nq, c.image_channels, c.image_height, c.image_width}, opts).uniform_(0, 1, gen);
  t.support_y = at::arange(ns, at::kLong).remainder(c.n_way).repeat({tasks, 1});
  t.query_y = at::arange(nq, at::kLong).remainder(c.n_way).repeat({tasks, 1});
  const at::Device device = on_cuda() ? at::Device(at::kCUDA) : at::Device(at::kCPU);
  t.support_x = t.support_x.to(device);
  t.support_y = t.support_y.to(device);
  t.query_x = t.query_x.to(device);
  t.query_y = t.query_y.to(device);
  return t;
}

bool same_state(const MetaLearner& a, const MetaLearner& b) {
  const auto sa = a.state(true), sb = b.state(true);
  if (sa.size() != sb.size()) return false;
  for (size_t i = 0; i < sa.size(); ++i)
    if (sa[i].name != sb[i].name || !at::equal(sa[i].tensor, sb[i].tensor)) return false;
  return true;
}

}  // namespace

TEST(Init, XavierUniformWeightsZeroBiasesUnitGammaAndInnerLr) {
  Config c = small_config();
  c.inner_lr = 0.25f;
  const MetaLearner m(c);
  for (const NamedTensor& t : m.state(false)) {
    const at::Tensor& v = t.tensor;
    if (t.name.find(".weight") != std::string::npos && t.name.rfind("lslr.", 0) != 0) {
      // bound = sqrt(6 / (fan_in + fan_out)), the receptive field counted in both fans.
      const int64_t receptive = v.dim() == 4 ? v.size(2) * v.size(3) : 1;
      const double bound = std::sqrt(6.0 / static_cast<double>((v.size(0) + v.size(1)) * receptive));
      EXPECT_LE(v.abs().max().item<double>(), bound) << t.name;
      EXPECT_GT(v.abs().max().item<double>(), 0.8 * bound) << t.name << " looks too narrow";
      EXPECT_NEAR(v.mean().item<double>(), 0.0, bound / 4) << t.name;
    } else if (t.name.find(".bias") != std::string::npos && t.name.rfind("lslr.", 0) != 0) {
      EXPECT_EQ(v.abs().max().item<double>(), 0.0) << t.name;
    } else if (t.name.find(".gamma") != std::string::npos || t.name.find("running_var") != std::string::npos) {
      EXPECT_TRUE(at::all(v == 1).item<bool>()) << t.name;
    } else if (t.name.find(".beta") != std::string::npos || t.name.find("running_mean") != std::string::npos) {
      EXPECT_TRUE(at::all(v == 0).item<bool>()) << t.name;
    } else if (t.name.rfind("lslr.", 0) == 0) {
      EXPECT_TRUE(at::all(v == 0.25f).item<bool>()) << t.name;
      EXPECT_EQ(v.numel(), c.inner_steps);
    }
  }
}

TEST(MetaTrainStep, ChangesLslrBnRowsAndRunningStatistics) {
  Config c = small_config();
  c.bn_stats = BnStats::Running;  // the only mode that keeps running statistics
  MetaLearner m(c);
  const auto before = m.state(false);
  const Metrics metrics = m.meta_train_step(random_tasks(m.config(), 2, 1, 1, 3));
  EXPECT_EQ(metrics.step, 1);
  EXPECT_EQ(m.step(), 1);
  EXPECT_TRUE(std::isfinite(metrics.loss));
  const auto after = m.state(false);
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    const std::string& name = before[i].name;
    // Every entry of every LSLR row and BN row must have moved (Adam's first step moves each
    // parameter with a non-zero gradient by about meta_lr).
    const at::Tensor unchanged = before[i].tensor.eq(after[i].tensor);
    // A conv bias right before batch norm with batch statistics gets exactly zero gradient (BN
    // subtracts the batch mean), so the rates of those biases have nothing to learn from.
    if (name.find("conv.bias") != std::string::npos) continue;
    if (name.rfind("lslr.", 0) == 0 || name.find(".gamma") != std::string::npos ||
        name.find(".beta") != std::string::npos || name.find("running_") != std::string::npos) {
      EXPECT_FALSE(unchanged.any().item<bool>()) << name << " has entries a step did not change";
    }
  }
}

TEST(MetaTrainStep, WithoutLslrTheRatesStayFixed) {
  Config c = small_config();
  c.learn_inner_lr = false;
  MetaLearner m(c);
  m.meta_train_step(random_tasks(c, 2, 1, 1, 3));
  for (double r : m.inner_lrs()) EXPECT_DOUBLE_EQ(r, static_cast<double>(c.inner_lr));
}

TEST(MetaTrainStep, SameSeedSameInputsGiveIdenticalLossesAndParameters) {
  if (on_cuda()) GTEST_SKIP() << "bitwise reproducibility is promised on the CPU";
  const Config c = small_config();
  MetaLearner a(c), b(c);
  for (int i = 0; i < 3; ++i) {
    const TaskTensors t = random_tasks(c, 2, 1, 2, 100 + i);
    const Metrics ma = a.meta_train_step(t), mb = b.meta_train_step(t);
    EXPECT_EQ(ma.loss, mb.loss);
    EXPECT_EQ(ma.accuracy, mb.accuracy);
  }
  EXPECT_TRUE(same_state(a, b));
  Config other = c;
  other.seed = 2;
  EXPECT_FALSE(same_state(a, MetaLearner(other)));
}

TEST(MetaTrainStep, NonFiniteLossIsRejectedAndChangesNothing) {
  const Config c = small_config();
  MetaLearner m(c);
  const auto before = m.state(true);
  TaskTensors tasks = random_tasks(c, 2, 1, 1, 3);
  tasks.support_x.fill_(3e38);  // finite, but the first convolution overflows float32
  try {
    m.meta_train_step(tasks);
    FAIL() << "expected a numerical error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Numerical);
    EXPECT_NE(std::string(e.what()).find("unchanged"), std::string::npos);
  }
  EXPECT_EQ(m.step(), 0);
  const auto after = m.state(true);
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_TRUE(at::equal(before[i].tensor, after[i].tensor)) << before[i].name;
}

// grad_clip clamps the network's meta-gradients only, as the reference does; grad_clip_lslr also
// clamps the inner rates'. Adam's first moment after one step is (1 - beta1) * the clamped gradient.
TEST(MetaTrainStep, GradClipClampsTheNetworkAndTheRatesOnlyWhenAsked) {
  for (bool clip_lslr : {false, true}) {
    SCOPED_TRACE(clip_lslr ? "grad_clip_lslr = 1" : "grad_clip_lslr = 0");
    Config c = small_config();
    c.dtype = DType::Float64;
    c.grad_clip = 1e-6f;
    c.grad_clip_lslr = clip_lslr;
    MetaLearner m(c);
    const TaskTensors tasks = random_tasks(c, 2, 1, 1, 5, at::kDouble);
    const MetaGradient g = m.meta_gradient(tasks);
    m.meta_train_step(tasks);
    const double bound = (1.0 - c.adam_beta1) * static_cast<double>(c.grad_clip) * (1 + 1e-9);
    const at::Tensor raw_lslr = g.grads.back().to(at::kCPU).abs().max();
    ASSERT_GT(raw_lslr.item<double>(), 10 * c.grad_clip);  // else the test could not tell
    int64_t network = 0, rates = 0;
    double largest_rate_moment = 0;
    for (const NamedTensor& t : m.state(true)) {
      if (t.name.rfind("adam.m.", 0) != 0) continue;
      const double largest = t.tensor.abs().max().item<double>();
      if (t.name.rfind("adam.m.lslr.", 0) == 0) {
        ++rates;
        largest_rate_moment = std::max(largest_rate_moment, largest);
      } else {
        ++network;
        EXPECT_LE(largest, bound) << t.name;
      }
    }
    EXPECT_GT(network, 0);
    EXPECT_GT(rates, 0);
    if (clip_lslr)
      EXPECT_LE(largest_rate_moment, bound);
    else
      EXPECT_NEAR(largest_rate_moment, (1.0 - c.adam_beta1) * raw_lslr.item<double>(), 1e-12);
  }
}

// Every tensor of both states (parameters, Adam moments, BN statistics) is bitwise equal.
void expect_same_state(const std::vector<NamedTensor>& before, const MetaLearner& m) {
  const auto after = m.state(true);
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_TRUE(at::equal(before[i].tensor, after[i].tensor)) << before[i].name;
}

// A model whose first Adam moments are near the largest float: loadable (every value finite), but
// the next update divides them by a second moment near zero and overflows every parameter.
std::unique_ptr<MetaLearner> model_about_to_overflow(Config c) {
  const MetaLearner fresh(c);
  std::vector<NamedTensor> state = fresh.state(true);
  for (NamedTensor& t : state)
    if (t.name.rfind("adam.m.", 0) == 0) t.tensor.fill_(3e38);
  return MetaLearner::from_state(c, 7, true, state, fresh.device());
}

TEST(MetaTrainStep, UpdateThatWouldOverflowIsRejectedAndChangesNothing) {
  for (const BnStats bn : {BnStats::Running, BnStats::Support}) {
    Config c = small_config();
    c.bn_stats = bn;  // Running: the BN statistics are part of the update too
    const auto m = model_about_to_overflow(c);
    const auto before = m->state(true);
    try {
      m->meta_train_step(random_tasks(c, 2, 1, 1, 3));
      FAIL() << "an update to infinite parameters was committed";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Numerical) << e.what();
      EXPECT_NE(std::string(e.what()).find("unchanged"), std::string::npos) << e.what();
    }
    EXPECT_EQ(m->step(), 7);
    expect_same_state(before, *m);
  }
}

TEST(MetaTrainStep, HugeMetaLrIsRejectedAndChangesNothing) {
  // meta_lr = 1e38: the step size meta_lr / (1 - beta1) overflows float32. Whether a config
  // accepts such a meta_lr is validate()'s business; the update itself must stay all or nothing.
  Config c = small_config();
  c.meta_lr = 1e38f;
  c.meta_lr_min = 0.0f;
  bool valid = true;
  try {
    validate(c);
  } catch (const Error&) {
    valid = false;
  }
  if (valid) {
    MetaLearner m(c);
    const auto before = m.state(true);
    EXPECT_THROW(m.meta_train_step(random_tasks(c, 2, 1, 1, 3)), Error);
    EXPECT_EQ(m.step(), 0);
    expect_same_state(before, m);
  }
  // The Adam step on its own, whatever the config rules: it refuses, and touches nothing.
  MetaLearner m(small_config());
  const std::vector<at::Tensor> params = m.params().trainable(m.config());
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : params) grads.push_back(at::ones_like(p));
  const AdamState fresh = adam_init(params);
  try {
    adam_next(params, grads, fresh, 1e38, 0.9, 0.99);
    FAIL() << "a step size beyond float32 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Numerical);
    EXPECT_NE(std::string(e.what()).find("lower meta_lr"), std::string::npos) << e.what();
  }
  for (const at::Tensor& t : fresh.m) EXPECT_EQ(t.count_nonzero().item<int64_t>(), 0);
}

TEST(MetaTrainStep, StepCounterAtItsLimitIsRefused) {
  const Config c = small_config();
  const MetaLearner fresh(c);
  const int64_t max = std::numeric_limits<int64_t>::max();
  const auto m = MetaLearner::from_state(c, max, true, fresh.state(true), fresh.device());
  const auto before = m->state(true);
  try {
    m->meta_train_step(random_tasks(c, 2, 1, 1, 3));
    FAIL() << "a step past the counter's limit was taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Unsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("step counter"), std::string::npos) << e.what();
  }
  EXPECT_EQ(m->step(), max);
  expect_same_state(before, *m);
  // One below the limit still trains, and reaches it.
  const auto almost = MetaLearner::from_state(c, max - 1, true, fresh.state(true), fresh.device());
  EXPECT_EQ(almost->meta_train_step(random_tasks(c, 2, 1, 1, 3)).step, max);
}

TEST(MetaTrainStep, DaAndCosineShowInMetrics) {
  Config c = small_config();
  c.first_order_epochs = 1;
  c.iters_per_epoch = 2;
  c.epochs = 4;
  MetaLearner m(c);
  std::vector<Metrics> ms;
  for (int i = 0; i < 4; ++i) ms.push_back(m.meta_train_step(random_tasks(c, 1, 1, 1, i)));
  EXPECT_FALSE(ms[0].second_order);
  EXPECT_FALSE(ms[1].second_order);
  EXPECT_TRUE(ms[2].second_order);
  EXPECT_EQ(ms[2].epoch, 1);
  EXPECT_FLOAT_EQ(static_cast<float>(ms[0].meta_lr), c.meta_lr);
  EXPECT_LT(ms[2].meta_lr, ms[1].meta_lr);
}

TEST(Evaluate, ChangesNothing) {
  MetaLearner m(small_config());
  m.meta_train_step(random_tasks(m.config(), 2, 1, 1, 3));
  const auto before = m.state(true);
  const Metrics e = m.evaluate(random_tasks(m.config(), 3, 1, 2, 4));
  EXPECT_GE(e.accuracy, 0.0);
  EXPECT_LE(e.accuracy, 1.0);
  const auto after = m.state(true);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(at::equal(before[i].tensor, after[i].tensor));
}

class BnStatsModes : public ::testing::TestWithParam<BnStats> {};

TEST_P(BnStatsModes, OneExampleAloneEqualsItInsideABatch) {
  Config c = small_config();
  c.bn_stats = GetParam();
  c.dtype = DType::Float64;
  MetaLearner m(c);
  m.meta_train_step(random_tasks(c, 2, 1, 1, 3, at::kDouble));  // non-trivial running statistics
  const TaskTensors t = random_tasks(c, 1, 2, 3, 8, at::kDouble);
  const auto learner = m.adapt(t).front();
  const at::Tensor batch = t.query_x.select(0, 0);  // 9 examples
  const at::Tensor together = learner->predict(batch);
  double worst = 0.0;
  for (int64_t i = 0; i < batch.size(0); ++i) {
    const at::Tensor alone = learner->predict(batch.narrow(0, i, 1));
    worst = std::max(worst, (alone[0] - together[i]).abs().max().item<double>());
  }
  if (GetParam() == BnStats::Transductive) {
    EXPECT_GT(worst, 1e-6) << "transductive BN should depend on the batch";
  } else {
    EXPECT_LT(worst, 1e-12);
  }
}

INSTANTIATE_TEST_SUITE_P(All, BnStatsModes,
                         ::testing::Values(BnStats::Running, BnStats::Support, BnStats::Transductive));

TEST(Adapt, LearnersAreIndependentOfTheModel) {
  const Config c = small_config();
  auto m = std::make_unique<MetaLearner>(c);
  const TaskTensors t = random_tasks(c, 1, 2, 2, 8);
  const auto before = m->state(true);
  const auto learner = m->adapt(t).front();
  const at::Tensor expected = learner->predict(t.query_x.select(0, 0));
  const auto after = m->state(true);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(at::equal(before[i].tensor, after[i].tensor));
  m.reset();  // the learner must survive its model
  EXPECT_TRUE(at::equal(learner->predict(t.query_x.select(0, 0)), expected));
}

// Adaptation and first-order steps differentiate once: no derivative is recorded for a second
// differentiation (counted by the fused batch norm, which every CPU pass uses); a second-order
// step does record them, so the count can move.
TEST(Adapt, BuildsNoSecondOrderGraph) {
  if (on_cuda()) GTEST_SKIP() << "the count comes from the CPU batch-norm op";
  Config c = small_config();
  auto m = std::make_unique<MetaLearner>(c);
  const TaskTensors t = random_tasks(c, 2, 2, 2, 9);
  const int64_t start = batch_norm_op_second_order_graphs();
  m->adapt(t);
  m->evaluate(t);
  EXPECT_EQ(batch_norm_op_second_order_graphs(), start) << "adaptation or evaluation built a second-order graph";
  c.second_order = false;
  auto first = std::make_unique<MetaLearner>(c);
  first->meta_train_step(t);
  EXPECT_EQ(batch_norm_op_second_order_graphs(), start) << "a first-order step built a second-order graph";
  m->meta_train_step(t);
  EXPECT_GT(batch_norm_op_second_order_graphs(), start) << "a second-order step built none: the count is blind";
}

// With given statistics (support or running) a learner folds batch norm into the convolutions
// when it is made; its predictions must be those of the unfolded network, in double precision.
TEST(Adapt, FoldedBatchNormPredictsAsTheGivenStatistics) {
  Config c = small_config();
  c.dtype = DType::Float64;
  c.device_type = DeviceType::Cpu;
  const MetaLearner m(c);
  at::Generator gen = at::detail::createCPUGenerator(21);
  std::vector<at::Tensor> fast;
  for (const at::Tensor& w : m.params().weights)
    fast.push_back(w.detach().unsqueeze(0) + 0.1 * at::empty_like(w.unsqueeze(0)).normal_(0, 1, gen));
  BnSpec spec = bn_spec(m.params(), 1, BnMode::Given, /*detach=*/true);
  for (BnLayer& l : spec.layers) {  // statistics and affine rows far from 0 and 1
    l.gamma = l.gamma + at::empty_like(l.gamma).uniform_(-0.5, 0.5, gen);
    l.beta = l.beta + at::empty_like(l.beta).normal_(0, 0.5, gen);
    l.mean = at::empty_like(l.gamma).normal_(0, 2, gen);
    l.var = at::empty_like(l.gamma).uniform_(0.1, 3, gen);
  }
  const at::Tensor x = at::empty({7, c.image_channels, c.image_height, c.image_width}, at::kDouble).uniform_(0, 1, gen);
  const at::Tensor want = forward(c, x.unsqueeze(0), fast, spec).select(0, 0);
  const Learner learner(c, fast, spec);
  const at::Tensor got = learner.predict(x);
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-12 * want.abs().max().item<double>());
  EXPECT_GT(want.std().item<double>(), 1e-3);  // not a degenerate network
}

// One float32 image without autograd takes oneDNN's convolution (core/backbone.cpp, conv3x3): it
// must compute what LibTorch's convolution computes, here in double precision as the reference,
// for the backbone's shapes (first layer, 64-channel maps, stride 2, grouped), and a learner's
// one-image prediction must equal that image's row in a batch.
TEST(Adapt, OneImageConvolutionMatchesLibTorchs) {
  at::NoGradGuard no_grad;
  at::Generator gen = at::detail::createCPUGenerator(3);
  struct Case { int64_t cin, size, stride, groups; };
  for (const Case& k : {Case{1, 28, 1, 1}, Case{64, 14, 1, 1}, Case{64, 7, 2, 1}, Case{8, 5, 1, 3}}) {
    SCOPED_TRACE("cin " + std::to_string(k.cin) + ", " + std::to_string(k.size) + "x" + std::to_string(k.size) +
                 ", stride " + std::to_string(k.stride) + ", groups " + std::to_string(k.groups));
    const at::Tensor x = at::empty({1, k.cin * k.groups, k.size, k.size}).normal_(0, 1, gen);
    const at::Tensor w = at::empty({k.groups * 16, k.cin, 3, 3}).normal_(0, 0.3, gen);
    const at::Tensor b = at::empty({k.groups * 16}).normal_(0, 1, gen);
    const at::Tensor got = conv3x3(x, w, b, k.stride, k.groups);
    const at::Tensor want = at::conv2d(x.to(at::kDouble), w.to(at::kDouble), b.to(at::kDouble), {k.stride, k.stride},
                                       {1, 1}, {1, 1}, k.groups);
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LT((got.to(at::kDouble) - want).abs().max().item<double>(), 1e-5 * want.abs().max().item<double>());
  }
  Config c = small_config();
  c.device_type = DeviceType::Cpu;
  c.num_filters = 64;
  MetaLearner m(c);
  const TaskTensors t = random_tasks(c, 1, 2, 2, 12);
  const auto learner = m.adapt(t).front();
  const at::Tensor batch = t.query_x.select(0, 0);
  const at::Tensor together = learner->predict(batch);
  for (int64_t i = 0; i < batch.size(0); ++i) {
    const at::Tensor alone = learner->predict(batch.narrow(0, i, 1));
    EXPECT_LT((alone[0] - together[i]).abs().max().item<double>(), 1e-4 * together.abs().max().item<double>());
  }
}

TEST(Adapt, BatchedAdaptationEqualsOneByOneInDouble) {
  // Every statistics mode, and head-only adaptation (ANIL) with support statistics.
  const std::pair<BnStats, int32_t> cases[] = {
      {BnStats::Running, 0}, {BnStats::Support, 0}, {BnStats::Transductive, 0}, {BnStats::Support, 1}};
  for (const auto& [mode, layers] : cases) {
    Config c = small_config();
    c.dtype = DType::Float64;
    c.bn_stats = mode;
    c.adapt_last_layers = layers;
    c.task_batching = TaskBatching::Batched;
    MetaLearner batched(c);
    c.task_batching = TaskBatching::Loop;
    MetaLearner looped(c);
    const TaskTensors t = random_tasks(c, 3, 1, 2, 21, at::kDouble);
    const auto lb = batched.adapt(t), ll = looped.adapt(t);
    for (int64_t i = 0; i < 3; ++i) {
      const at::Tensor x = t.query_x.select(0, i);
      EXPECT_TRUE(at::allclose(lb[i]->predict(x), ll[i]->predict(x), 1e-9, 1e-12)) << to_string(mode) << " task " << i;
    }
  }
}

TEST(State, RoundTripGivesTheSameModel) {
  const Config c = small_config();
  MetaLearner m(c);
  m.meta_train_step(random_tasks(c, 2, 1, 1, 3));
  if (on_cuda()) GTEST_SKIP() << "bitwise reproducibility is promised on the CPU";
  const auto copy = MetaLearner::from_state(c, m.step(), true, m.state(true), m.device());
  EXPECT_TRUE(same_state(m, *copy));
  const TaskTensors next = random_tasks(c, 2, 1, 1, 4);
  const Metrics a = m.meta_train_step(next), b = copy->meta_train_step(next);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_TRUE(same_state(m, *copy));
}

TEST(Config, ImpossibleConfigsAreRefused) {
  Config c = small_config();
  c.image_height = 3;  // two max-pool stages need 4 pixels
  EXPECT_THROW(MetaLearner{c}, Error);
  c = small_config();
  c.num_stages = 0;
  EXPECT_THROW(MetaLearner{c}, Error);
  c = small_config();
  c.device_type = static_cast<DeviceType>(7);
  EXPECT_THROW(MetaLearner{c}, Error);
  c = small_config();
  c.adapt_last_layers = c.num_stages + 2;  // more layers than the model has
  try {
    MetaLearner m{c};
    ADD_FAILURE() << "adapt_last_layers beyond the layer count was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("adapt_last_layers (4) exceeds the model's 3 layers"), std::string::npos)
        << e.what();
  }
  c.adapt_last_layers = c.num_stages + 1;  // every layer: accepted
  EXPECT_NO_THROW(MetaLearner{c});
}

// ANIL: head-only adaptation leaves the body where meta-training put it, so a head-only learner
// predicts the meta-model's features through its adapted head. Checked by refitting the head on
// the meta-model's support features by hand: 3 steps of gradient descent with the head's rates.
TEST(Adapt, HeadOnlyLearnerAdaptsTheHeadAlone) {
  Config c = small_config();
  c.dtype = DType::Float64;
  c.device_type = DeviceType::Cpu;
  c.bn_stats = BnStats::Transductive;
  c.per_step_bn = false;  // one BN row: the body's features are the same at every step
  c.adapt_last_layers = 1;
  MetaLearner m(c);
  ASSERT_EQ(m.params().lslr.size(0), 2);  // head weight and bias
  at::Generator gen = at::detail::createCPUGenerator(5);
  {
    at::NoGradGuard no_grad;
    m.params().lslr.uniform_(0.05, 0.4, gen);
  }
  const TaskTensors t = random_tasks(c, 1, 2, 2, 30, at::kDouble);
  const auto learner = m.adapt(t).front();
  // By hand: body features of support and query (transductive BN, batch statistics of each set).
  std::vector<at::Tensor> w;
  for (const at::Tensor& p : m.params().weights) w.push_back(p.detach().unsqueeze(0));
  const int32_t S = c.num_stages;
  auto features = [&](const at::Tensor& x) {
    std::vector<at::Tensor> zero_head = w;
    zero_head[2 * S] = at::eye(w[2 * S].size(2), at::kDouble).unsqueeze(0);  // identity head: features out
    zero_head[2 * S + 1] = at::zeros({1, w[2 * S].size(2)}, at::kDouble);
    Config id = c;
    id.n_way = static_cast<int32_t>(w[2 * S].size(2));
    return forward(id, x.unsqueeze(0), zero_head, bn_spec(m.params(), 0, BnMode::Batch, true)).select(0, 0);
  };
  const at::Tensor fs = features(t.support_x.select(0, 0)), fq = features(t.query_x.select(0, 0));
  at::Tensor hw = w[2 * S].select(0, 0).clone(), hb = w[2 * S + 1].select(0, 0).clone();
  const at::Tensor rates = m.params().lslr.detach();
  for (int32_t i = 0; i < c.eval_inner_steps; ++i) {
    hw.requires_grad_(true);
    hb.requires_grad_(true);
    const at::Tensor loss = at::cross_entropy_loss(at::addmm(hb, fs, hw.t()), t.support_y.select(0, 0), {},
                                                   at::Reduction::Mean);
    const auto g = torch::autograd::grad({loss}, {hw, hb});
    at::NoGradGuard no_grad;
    hw = hw - rates[0][i] * g[0];
    hb = hb - rates[1][i] * g[1];
  }
  const at::Tensor want = at::addmm(hb.detach(), fq, hw.detach().t());
  const at::Tensor got = learner->predict(t.query_x.select(0, 0));
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-10);
  EXPECT_GT((hw.detach() - w[2 * S].select(0, 0)).abs().max().item<double>(), 1e-4);  // the head moved
}
