#include "core/schedules.hpp"

#include <algorithm>
#include <cmath>

namespace mamlpp {

std::vector<double> msl_weights(int32_t steps, int32_t msl_epochs, int64_t epoch) {
  const double s = steps;
  const double decay = msl_epochs > 0 ? 1.0 / (s * msl_epochs) : 0.0;
  const double floor_weight = 0.03 / s;
  const double e = static_cast<double>(epoch);
  std::vector<double> w(static_cast<size_t>(steps), std::max(1.0 / s - e * decay, floor_weight));
  w.back() = std::min(1.0 / s + e * (s - 1.0) * decay, 1.0 - (s - 1.0) * floor_weight);
  return w;
}

bool msl_active(const Config& cfg, int64_t epoch) {
  return cfg.multi_step_loss && epoch < cfg.msl_epochs;
}

std::vector<double> query_loss_weights(const Config& cfg, int64_t epoch) {
  if (msl_active(cfg, epoch)) return msl_weights(cfg.inner_steps, cfg.msl_epochs, epoch);
  std::vector<double> w(static_cast<size_t>(cfg.inner_steps), 0.0);
  w.back() = 1.0;
  return w;
}

bool second_order_at(const Config& cfg, int64_t epoch) {
  return cfg.second_order && epoch >= cfg.first_order_epochs;
}

double cosine_meta_lr(const Config& cfg, int64_t epoch) {
  const double e = std::clamp<double>(static_cast<double>(epoch), 0.0, cfg.epochs);
  const double hi = cfg.meta_lr, lo = cfg.meta_lr_min;
  return lo + (hi - lo) * (1.0 + std::cos(M_PI * e / cfg.epochs)) / 2.0;
}

}  // namespace mamlpp
