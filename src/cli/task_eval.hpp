// Measuring models on fixed sets of tasks. Task t of a sampler is a pure function of its seed and
// t, so "tasks 0..N-1 of the test split with val_seed" is the same set on every run, for every
// batch size and every model.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "cli/cluster.hpp"
#include "cli/model.hpp"
#include "data/sampler.hpp"

namespace mamlpp::cli {

// A view of a data-layer meta-batch as the C ABI's maml_tasks (no copy).
maml_tasks as_tasks(const data::MetaBatch& batch);

struct ValScore {
  double loss = 0, accuracy = 0;  // over the tasks that did not diverge
  int64_t tasks = 0;
  // Tasks of chunks maml_evaluate refused as not finite (an adaptation that diverged, e.g. more
  // evaluation steps than the model was trained with): reported, not fatal to training.
  int64_t diverged = 0;
  double seconds = 0;
};

// Tasks [0, total) of `sampler` through maml_evaluate in chunks of `batch` tasks: the mean query
// loss and accuracy over tasks. Used for validation during training. `between` (may be empty)
// runs before each chunk; it may throw to stop (a stop request). With a cluster, rank r evaluates
// chunks r, r + world, ... and the sums are pooled: every rank gets the score over all tasks.
ValScore validate(const Model& model, const data::EpisodeSampler& sampler, int64_t total, int32_t batch,
                  const std::function<void()>& between = {}, const Cluster* cluster = nullptr);

struct TaskScores {
  std::vector<double> accuracy;  // per task
  std::vector<double> loss;      // per task: mean query cross-entropy of the (averaged) logits
  double seconds = 0;
};

// Tasks [0, total) of `sampler`, each adapted by every model (maml_adapt_tasks) and predicted on
// its query set (maml_predict); with several models the logits are averaged per query example
// before the argmax, as the MAML++ reference's ensemble of its best checkpoints. `progress` (may
// be empty) is called with the number of tasks done.
TaskScores evaluate_tasks(const std::vector<const Model*>& models, const data::EpisodeSampler& sampler,
                          int64_t total, int32_t batch,
                          const std::function<void(int64_t)>& progress = {});

}  // namespace mamlpp::cli
