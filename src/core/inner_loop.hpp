// The MAML++ inner loop: adapt the meta-parameters to T tasks at once (T = 1 for the per-task
// loop), step by step with the LSLR rates, and measure the query loss after each step.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "core/backbone.hpp"
#include "core/config.hpp"
#include "core/meta_params.hpp"
#include "core/tasks.hpp"

namespace mamlpp {

struct InnerLoopOptions {
  int32_t steps = 1;
  // Training: fast weights stay differentiable w.r.t. the meta-parameters and BN uses batch
  // statistics. Evaluation: every step starts from detached weights; BN follows bn_stats.
  bool training = false;
  bool second_order = false;           // training only: inner gradients keep their graph
  std::vector<double> query_weights;   // training: per-step query-loss weights (0 = no pass)
  bool observe_running = false;        // training: record batch statistics for BNRS
};

struct InnerLoopResult {
  at::Tensor task_loss;               // [T]: weighted query losses (training) / last query loss
  at::Tensor accuracy;                // [T]: last-step query accuracy, detached
  std::vector<at::Tensor> fast;       // theta_S, each [T, ...]
  std::vector<RowObservation> observations;
};

// One inner step (LSLR): theta_{i+1} = theta_i - alpha[tensor][i] * grad, for every tensor the
// inner loop adapts; `lslr` is the rate table [those tensors, inner_steps], steps past its last column reuse
// that column. In first-order mode the gradients carry no graph, but theta_i and alpha still do,
// so both receive outer gradients; the result is differentiable as far as its inputs are.
std::vector<at::Tensor> inner_step(const std::vector<at::Tensor>& fast,
                                   const std::vector<at::Tensor>& grads, const at::Tensor& lslr,
                                   int64_t step);

// Runs the inner loop on `tasks`. Without query tensors only adapts (task_loss/accuracy undefined).
InnerLoopResult inner_loop(const Config& cfg, const MetaParams& meta, const TaskTensors& tasks,
                           const InnerLoopOptions& opt);

}  // namespace mamlpp
