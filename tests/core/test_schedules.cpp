// MSL weights, cosine meta learning rate and derivative-order annealing against MAMLPP.md.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "core/schedules.hpp"

using namespace mamlpp;

namespace {
Config msl_config() {
  Config c;
  c.inner_steps = 5;
  c.msl_epochs = 10;
  c.multi_step_loss = true;
  return c;
}
}  // namespace

TEST(Msl, WeightsFollowTheFormulaAtEpochs0_5_9) {
  // MAMLPP.md: S=5, msl_epochs=10: e=0 -> all 0.2; e=5 -> [0.1 x4, 0.6]; e=9 -> [0.02 x4, 0.92].
  const std::vector<std::pair<int, std::vector<double>>> cases = {
      {0, {0.2, 0.2, 0.2, 0.2, 0.2}},
      {5, {0.1, 0.1, 0.1, 0.1, 0.6}},
      {9, {0.02, 0.02, 0.02, 0.02, 0.92}},
  };
  for (const auto& [epoch, expected] : cases) {
    const std::vector<double> w = query_loss_weights(msl_config(), epoch);
    ASSERT_EQ(w.size(), expected.size());
    for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(w[i], expected[i], 1e-12) << "epoch " << epoch << " step " << i;
    EXPECT_NEAR(std::accumulate(w.begin(), w.end(), 0.0), 1.0, 1e-12);
  }
}

TEST(Msl, FloorHoldsBeyondTheAnnealingHorizon) {
  // Past the point where the decay would cross it, intermediate weights stay at 0.03/S.
  const std::vector<double> w = msl_weights(5, 10, 100);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(w[i], 0.006, 1e-12);
  EXPECT_NEAR(w[4], 1.0 - 4 * 0.006, 1e-12);
}

TEST(Msl, LastStepOnlyFromMslEpochs) {
  for (int epoch : {10, 11, 50}) {
    const std::vector<double> w = query_loss_weights(msl_config(), epoch);
    EXPECT_EQ(w, (std::vector<double>{0, 0, 0, 0, 1})) << "epoch " << epoch;
  }
  Config off = msl_config();
  off.multi_step_loss = false;
  EXPECT_EQ(query_loss_weights(off, 0), (std::vector<double>{0, 0, 0, 0, 1}));
}

TEST(Cosine, AnnealsFromMaxToMinOverTheEpochs) {
  Config c;
  c.meta_lr = 1e-3f;
  c.meta_lr_min = 1e-5f;
  c.epochs = 100;
  const double hi = c.meta_lr, lo = c.meta_lr_min;
  EXPECT_DOUBLE_EQ(cosine_meta_lr(c, 0), hi);
  EXPECT_NEAR(cosine_meta_lr(c, 50), (hi + lo) / 2, 1e-15);
  EXPECT_NEAR(cosine_meta_lr(c, 25), lo + (hi - lo) * (1 + std::cos(M_PI / 4)) / 2, 1e-15);
  EXPECT_NEAR(cosine_meta_lr(c, 100), lo, 1e-15);
  EXPECT_NEAR(cosine_meta_lr(c, 150), lo, 1e-15);  // clamped past the horizon
  for (int e = 1; e <= 100; ++e) EXPECT_LT(cosine_meta_lr(c, e), cosine_meta_lr(c, e - 1));
}

TEST(Da, SwitchesToSecondOrderAtTheConfiguredEpoch) {
  Config c;
  c.second_order = true;
  c.first_order_epochs = 3;
  EXPECT_FALSE(second_order_at(c, 0));
  EXPECT_FALSE(second_order_at(c, 2));
  EXPECT_TRUE(second_order_at(c, 3));
  EXPECT_TRUE(second_order_at(c, 40));
  c.second_order = false;  // first order throughout
  EXPECT_FALSE(second_order_at(c, 40));
  c.second_order = true;
  c.first_order_epochs = 0;  // no annealing: second order from the start
  EXPECT_TRUE(second_order_at(c, 0));
}

TEST(Epochs, StepToEpoch) {
  Config c;
  c.iters_per_epoch = 500;
  EXPECT_EQ(epoch_of(c, 0), 0);
  EXPECT_EQ(epoch_of(c, 499), 0);
  EXPECT_EQ(epoch_of(c, 500), 1);
}
