// The meta-training loop shared by `train` and `demo`: meta-batches from a background Prefetcher
// into maml_meta_train_step, with progress, a stop check and a clear message when a step is
// refused as non-finite.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "cli/model.hpp"
#include "cli/progress.hpp"
#include "data/prefetch.hpp"

namespace mamlpp::cli {

struct StepTotals {
  int64_t steps = 0;
  double loss_sum = 0, acc_sum = 0;
  float last_meta_lr = 0;
  bool last_second_order = false;
  double mean_loss() const { return steps ? loss_sum / static_cast<double>(steps) : 0.0; }
  double mean_acc() const { return steps ? acc_sum / static_cast<double>(steps) : 0.0; }
};

// Runs meta-train steps until the model's step counter reaches `until`, taking batches from
// `prefetch` (which must be positioned at the model's step). Throws CliError: kExitRuntime for a
// non-finite step (`on_numerical` supplies the advice appended to the message), kExitInterrupted
// when a stop was requested (`on_interrupt` supplies the message), kExitData for data errors.
StepTotals train_steps(const Model& model, data::Prefetcher& prefetch, int64_t until, Progress* progress,
                       const std::function<std::string()>& on_numerical,
                       const std::function<std::string(int64_t step)>& on_interrupt);

}  // namespace mamlpp::cli
