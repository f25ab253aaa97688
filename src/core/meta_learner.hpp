// The MAML++ meta-learner: meta-parameters, Adam, the step counter, and the three things one does
// with them: a meta-train step on a meta-batch, evaluation, and adaptation to new tasks.
#pragma once

#include <ATen/ATen.h>

#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "core/adam.hpp"
#include "core/config.hpp"
#include "core/distributed.hpp"
#include "core/inner_loop.hpp"
#include "core/layout.hpp"
#include "core/learner.hpp"
#include "core/meta_params.hpp"
#include "core/model_state.hpp"
#include "core/tasks.hpp"

namespace mamlpp {

struct Metrics {
  double loss = 0.0;      // mean over tasks of the (MSL-weighted) query loss
  double accuracy = 0.0;  // mean over tasks of the last step's query accuracy
  double meta_lr = 0.0;
  bool second_order = false;
  int64_t step = 0;   // steps completed after the call
  int64_t epoch = 0;  // the epoch the step belonged to
};

// A meta-batch's meta-gradient, before anything is updated.
struct MetaGradient {
  at::Tensor loss, accuracy;          // scalars, on the model's device
  std::vector<at::Tensor> grads;      // one per trainable tensor, in Adam's order
  std::vector<RowObservation> observations;  // batch statistics for the running-stat update
  bool second_order = false;
  int64_t epoch = 0;
};

class MetaLearner {
 public:
  // A freshly initialised model on the configured device. Validates the config.
  explicit MetaLearner(const Config& cfg);

  // Rebuilds a model from the tensors a file holds (names and shapes of make_layout(cfg), plus
  // adam.m.* / adam.v.* when has_optimizer). Throws Error(Format) if any is missing or misshapen.
  static std::unique_ptr<MetaLearner> from_state(const Config& cfg, int64_t step, bool has_optimizer,
                                                 const std::vector<NamedTensor>& tensors,
                                                 at::Device device);

  // Every tensor in file order (see docs/FILE_FORMAT.md), on the CPU, detached.
  std::vector<NamedTensor> state(bool with_optimizer) const;

  // The meta-loss and its gradient w.r.t. every meta-parameter for a meta-batch, at the current
  // epoch's MSL weights and derivative order. Changes nothing.
  MetaGradient meta_gradient(const TaskTensors& batch) const;

  // One meta-train step. Throws Error(Numerical) and changes nothing if the loss or a gradient is
  // not finite. With a group attached it is collective: `batch` is this rank's share, the
  // gradients, losses and BN statistics are pooled over every rank (core/data_parallel.hpp), and
  // every rank takes the same step or, if any rank failed or any value is not finite, every rank
  // refuses it and changes nothing.
  Metrics meta_train_step(const TaskTensors& batch);
  // For a rank whose share of a collective step could not even be prepared (bad input): takes
  // part in the step so that every rank refuses it together, then rethrows `failure`.
  [[noreturn]] void refuse_step_together(std::exception_ptr failure);

  // Distributed data-parallel training (collective on every rank of the group): checks that every
  // rank holds the same model (throws Error(Distributed) naming what differs, and attaches none),
  // then broadcasts rank 0's complete state (parameters, LSLR, BN rows, Adam moments) so the ranks
  // start bitwise identical. detach() makes the model local again.
  void attach(std::shared_ptr<Group> group);
  void detach() noexcept { group_.reset(); }
  const std::shared_ptr<Group>& group() const { return group_; }

  // Adapts and measures every task with eval_inner_steps steps; changes nothing.
  Metrics evaluate(const TaskTensors& batch) const;

  // One learner per task of `support` (query ignored). Thread-safe against other const calls.
  std::vector<std::shared_ptr<const Learner>> adapt(const TaskTensors& support) const;

  // The inner-rate table [adapted tensors, inner_steps] as doubles on the host.
  std::vector<double> inner_lrs() const;

  const Config& config() const { return cfg_; }
  const Layout& layout() const { return layout_; }
  const MetaParams& params() const { return params_; }
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }
  int64_t step() const { return step_; }
  int64_t num_parameters() const;
  // Whether the tasks of a meta-batch run together (stacked weights) rather than one by one.
  bool batched_tasks() const;

 private:
  MetaLearner(const Config& cfg, at::Device device);
  // The number of parts (threads) a batch of `tasks` tasks is split into.
  int parts_for(int64_t tasks) const;
  // Runs the inner loop over the batch split into parts_for() contiguous parts, each on its own
  // thread, each either batched or task by task; sink(part, result) runs on the part's thread.
  template <typename Sink>
  void for_each_part(const TaskTensors& batch, const InnerLoopOptions& opt, Sink&& sink) const;
  // A meta-train step's update is all or nothing: every new value is computed aside and checked
  // (next_state: throws, changing nothing, when anything fails or a value is not finite), then
  // swapped in by commit, which cannot fail.
  struct NextState {
    std::vector<at::Tensor> trainable;                  // params_.trainable() order
    AdamState adam;
    std::vector<at::Tensor> running_mean, running_var;  // per stage; empty: unchanged
    int64_t step = 0;
  };
  NextState next_state(const std::vector<at::Tensor>& grads, double lr, const RunningStatSums& bn,
                       int64_t step) const;
  void commit(NextState&& next) noexcept;
  // The step's update from a meta-gradient (the mean over the meta-batch) whose loss, accuracy
  // and finiteness were already checked: clipping, the cosine-annealed rate, Adam, BN, commit.
  Metrics apply_step(std::vector<at::Tensor>& grads, const RunningStatSums& bn, double loss, double accuracy,
                     int64_t epoch, bool second_order);
  Metrics collective_step(const TaskTensors* batch, std::exception_ptr failure);
  void check_step_counter() const;

  Config cfg_;
  Layout layout_;
  at::Device device_;
  at::ScalarType dtype_;
  MetaParams params_;
  AdamState adam_;
  int64_t step_ = 0;
  std::shared_ptr<Group> group_;
};

}  // namespace mamlpp
