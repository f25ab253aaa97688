// The MAML++ schedules as pure functions of the config and the epoch: MSL importance weights,
// derivative-order annealing (DA) and the cosine-annealed meta learning rate (CA). Torch-free.
#pragma once

#include <cstdint>
#include <vector>

#include "core/config.hpp"

namespace mamlpp {

// The epoch a meta-train step belongs to, given the steps completed before it.
inline int64_t epoch_of(const Config& cfg, int64_t steps_done) { return steps_done / cfg.iters_per_epoch; }

// MSL weights w_0..w_{S-1} at `epoch` (MAMLPP.md): every step but the last decays from 1/S to the
// floor 0.03/S, the last grows to absorb the rest.
std::vector<double> msl_weights(int32_t steps, int32_t msl_epochs, int64_t epoch);

// Whether a training step at `epoch` uses the multi-step loss (only while epoch < msl_epochs).
bool msl_active(const Config& cfg, int64_t epoch);

// The per-step query-loss weights a training step at `epoch` uses: MSL's while active, else only
// the last step's loss (weight 1).
std::vector<double> query_loss_weights(const Config& cfg, int64_t epoch);

// DA: first-order meta-gradients for the first first_order_epochs, then second order (if on).
bool second_order_at(const Config& cfg, int64_t epoch);

// CA: lr(e) = min + (max - min) * (1 + cos(pi * e / epochs)) / 2, e clamped to [0, epochs].
double cosine_meta_lr(const Config& cfg, int64_t epoch);

}  // namespace mamlpp
