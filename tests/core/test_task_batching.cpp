// The task-batched inner loop (per-task weights stacked, grouped convolutions, batched head)
// computes what the per-task loop computes: the same meta-losses, meta-gradients, evaluation
// metrics and adapted predictions, for MAML++ and plain MAML, first and second order, every
// bn_stats mode. Compared in double precision, where the two differ only by rounding (relative
// tolerance 1e-9); in float32 the inner-loop dynamics amplify rounding to a few percent.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <tuple>

#include "core/meta_learner.hpp"
#include "random_tasks.hpp"

using namespace mamlpp;

namespace {

enum class Variant { MamlPlusPlus, PlainMaml, Strided, MlpRegression };

Config config_for(Variant v, bool second_order, BnStats bn) {
  Config c;
  c.n_way = 3;
  c.image_height = 8;
  c.image_width = 8;
  c.num_stages = 2;
  c.num_filters = 4;
  c.inner_steps = 3;
  c.eval_inner_steps = 4;  // one step past training: the last rate and BN row are reused
  c.second_order = second_order;
  c.first_order_epochs = 0;
  c.bn_stats = bn;
  c.dtype = DType::Float64;
  c.device_type = DeviceType::Cpu;
  c.seed = 5;
  if (v == Variant::Strided) c.max_pool = false;  // stride-2 convs + global average pool
  if (v == Variant::MlpRegression) {  // vectors through 2 hidden layers, 2 real outputs, MSE
    c.backbone = Backbone::Mlp;
    c.input_features = 5;
    c.hidden_sizes = HiddenSizes{6, 4, 0, 0, 0, 0, 0, 0};
    c.task_kind = TaskKind::Regression;
    c.n_outputs = 2;
  }
  if (v == Variant::PlainMaml) {
    c.learn_inner_lr = false;
    c.per_step_bn = false;
    c.multi_step_loss = false;
    c.meta_lr_min = c.meta_lr;
  }
  return c;
}

// Two support and three query examples per class.
TaskTensors random_tasks(const Config& c, int64_t tasks, uint64_t seed) {
  return core_test::random_tasks(c, tasks, c.n_way * 2, c.n_way * 3, seed);
}

void expect_close(const at::Tensor& a, const at::Tensor& b, const std::string& what) {
  EXPECT_TRUE(at::allclose(a, b, 1e-9, 1e-12))
      << what << ": max difference " << (a - b).abs().max().item<double>();
}

}  // namespace

class LoopVsBatched : public ::testing::TestWithParam<std::tuple<Variant, bool, BnStats>> {};

TEST_P(LoopVsBatched, SameMetaGradientsMetricsAndPredictions) {
  const auto [variant, second_order, bn] = GetParam();
  Config c = config_for(variant, second_order, bn);
  c.task_batching = TaskBatching::Loop;
  MetaLearner loop(c);
  c.task_batching = TaskBatching::Batched;
  MetaLearner batched(c);
  ASSERT_FALSE(loop.batched_tasks());
  ASSERT_TRUE(batched.batched_tasks());

  // Two training steps first, so that running statistics, Adam and LSLR are not at their
  // initial values when we compare.
  for (uint64_t s = 0; s < 2; ++s) {
    const TaskTensors t = random_tasks(c, 3, 10 + s);
    const Metrics a = loop.meta_train_step(t), b = batched.meta_train_step(t);
    EXPECT_NEAR(a.loss, b.loss, 1e-9 * std::abs(a.loss));
  }

  const TaskTensors t = random_tasks(c, 4, 42);
  const MetaGradient ga = loop.meta_gradient(t), gb = batched.meta_gradient(t);
  EXPECT_EQ(ga.second_order, second_order);
  expect_close(ga.loss, gb.loss, "meta-loss");
  ASSERT_EQ(ga.grads.size(), gb.grads.size());
  for (size_t k = 0; k < ga.grads.size(); ++k) expect_close(ga.grads[k], gb.grads[k], "gradient " + std::to_string(k));

  const Metrics ea = loop.evaluate(t), eb = batched.evaluate(t);
  EXPECT_NEAR(ea.loss, eb.loss, 1e-9 * std::abs(ea.loss));
  if (c.task_kind == TaskKind::Regression) {
    EXPECT_TRUE(std::isnan(ea.accuracy) && std::isnan(eb.accuracy));
  } else {
    EXPECT_DOUBLE_EQ(ea.accuracy, eb.accuracy);
  }

  const auto la = loop.adapt(t), lb = batched.adapt(t);
  ASSERT_EQ(la.size(), 4u);
  for (size_t i = 0; i < la.size(); ++i) {
    const at::Tensor x = t.query_x.select(0, static_cast<int64_t>(i));
    expect_close(la[i]->predict(x), lb[i]->predict(x), "prediction of task " + std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllModes, LoopVsBatched,
    ::testing::Combine(::testing::Values(Variant::MamlPlusPlus, Variant::PlainMaml, Variant::Strided,
                                         Variant::MlpRegression),
                       ::testing::Bool(),
                       ::testing::Values(BnStats::Support, BnStats::Running, BnStats::Transductive)),
    [](const ::testing::TestParamInfo<LoopVsBatched::ParamType>& info) {
      const Variant v = std::get<0>(info.param);
      return std::string(v == Variant::MamlPlusPlus ? "MamlPlusPlus"
                         : v == Variant::PlainMaml  ? "PlainMaml"
                         : v == Variant::Strided    ? "Strided"
                                                    : "MlpRegression") +
             (std::get<1>(info.param) ? "_SecondOrder_" : "_FirstOrder_") + to_string(std::get<2>(info.param));
    });
