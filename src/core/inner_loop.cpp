#include "core/inner_loop.hpp"

#include <torch/csrc/autograd/autograd.h>

#include <algorithm>

namespace mamlpp {

std::vector<at::Tensor> inner_step(const std::vector<at::Tensor>& fast,
                                   const std::vector<at::Tensor>& grads, const at::Tensor& lslr,
                                   int64_t step) {
  // Evaluation may take more steps than were meta-trained: they reuse the last column of rates.
  const at::Tensor rates = lslr.select(1, std::min<int64_t>(step, lslr.size(1) - 1));
  std::vector<at::Tensor> next;
  next.reserve(fast.size());
  for (size_t k = 0; k < fast.size(); ++k)
    next.push_back(fast[k] - rates.select(0, static_cast<int64_t>(k)) * grads[k]);
  return next;
}

namespace {

// Query-pass logits at the adapted weights, normalised as bn_stats says. With support statistics
// the support set rides along in the same forward pass and provides them.
// `support_then_query` is [support; query] along the example dimension, built once per inner loop
// for support statistics (undefined otherwise).
at::Tensor query_logits(const Config& cfg, const MetaParams& meta, const TaskTensors& tasks,
                        const at::Tensor& support_then_query, const std::vector<at::Tensor>& fast,
                        int64_t row, bool training, BnObservation* observe) {
  const bool detach = !training;
  if (cfg.bn_stats == BnStats::Support) {
    BnSpec spec = bn_spec(meta, row, BnMode::Reference, detach);
    const int64_t ns = tasks.support_x.size(1);
    spec.reference_rows = ns;
    return forward(cfg, support_then_query, fast, spec).narrow(1, ns, tasks.query_x.size(1));
  }
  // Running statistics normalise the query pass in training too, so that what meta-training
  // optimises is what prediction computes.
  const bool running = cfg.bn_stats == BnStats::Running;
  BnSpec spec = bn_spec(meta, row, running ? BnMode::Given : BnMode::Batch, detach);
  spec.observe = observe;
  return forward(cfg, tasks.query_x, fast, spec);
}

}  // namespace

InnerLoopResult inner_loop(const Config& cfg, const MetaParams& meta, const TaskTensors& tasks,
                           const InnerLoopOptions& opt) {
  at::AutoGradMode grad_mode(true);
  const int64_t T = tasks.num_tasks();
  InnerLoopResult out;

  // theta_0 for every task: a broadcast view of the meta-weights (no copy). In evaluation the
  // view is cut from the meta-parameters' graph. The inner loop adapts fast[first..]; with
  // adapt_last_layers (ANIL) the layers before stay at theta_0, and the inner gradient's backward
  // pass stops at the first adapted layer.
  const auto first = static_cast<size_t>(first_inner_tensor(cfg));
  std::vector<at::Tensor> fast;
  fast.reserve(meta.weights.size());
  for (const at::Tensor& w : meta.weights) {
    std::vector<int64_t> shape{T};
    shape.insert(shape.end(), w.sizes().begin(), w.sizes().end());
    at::Tensor t = (opt.training ? w : w.detach()).unsqueeze(0).expand(shape);
    if (!opt.training && fast.size() >= first) t.requires_grad_(true);
    fast.push_back(t);
  }
  const at::Tensor lslr = opt.training ? meta.lslr : meta.lslr.detach();

  const at::Tensor support_then_query = tasks.has_query() && cfg.bn_stats == BnStats::Support
                                           ? at::cat({tasks.support_x, tasks.query_x}, 1)
                                           : at::Tensor();
  at::Tensor weighted_loss;
  for (int32_t i = 0; i < opt.steps; ++i) {
    const int64_t row = bn_row(cfg, i);
    // Support pass at theta_i, BN row i, always on the support set's own statistics: the learned
    // inner rates rely on BN's invariance to the scale of the weights, which fixed statistics
    // would break (measured: adaptation with running statistics collapses to chance).
    BnSpec spec = bn_spec(meta, row, BnMode::Batch, !opt.training);
    RowObservation support_obs{row, {}};
    if (opt.observe_running) spec.observe = &support_obs.stats;
    const at::Tensor support_loss =
        task_loss(cfg, forward(cfg, tasks.support_x, fast, spec), tasks.support_y).sum();
    if (opt.observe_running) out.observations.push_back(std::move(support_obs));

    const bool create_graph = opt.training && opt.second_order;
    const std::vector<at::Tensor> theta(fast.begin() + static_cast<std::ptrdiff_t>(first), fast.end());
    const std::vector<at::Tensor> grads = torch::autograd::grad(
        {support_loss}, theta, {}, /*retain_graph=*/opt.training, create_graph);

    {
      at::AutoGradMode keep(opt.training);
      std::vector<at::Tensor> next = inner_step(theta, grads, lslr, i);
      for (size_t k = 0; k < next.size(); ++k) {
        if (!opt.training) next[k].requires_grad_(true);
        fast[first + k] = std::move(next[k]);
      }
    }

    // Query pass at theta_{i+1}, BN row i: every step under MSL, else only the last.
    if (!tasks.has_query()) continue;
    const bool last = i + 1 == opt.steps;
    const double weight = opt.training ? opt.query_weights[static_cast<size_t>(i)] : (last ? 1.0 : 0.0);
    if (weight == 0.0 && !last) continue;
    at::AutoGradMode query_grad(opt.training);
    RowObservation query_obs{row, {}};
    const bool observe = opt.observe_running && cfg.bn_stats != BnStats::Support;
    const at::Tensor logits =
        query_logits(cfg, meta, tasks, support_then_query, fast, row, opt.training,
                     observe ? &query_obs.stats : nullptr);
    if (observe) out.observations.push_back(std::move(query_obs));
    const at::Tensor loss = task_loss(cfg, logits, tasks.query_y);
    if (weight != 0.0) weighted_loss = weighted_loss.defined() ? weighted_loss + weight * loss : weight * loss;
    if (last) out.accuracy = task_accuracy(cfg, logits.detach(), tasks.query_y);
  }
  out.task_loss = weighted_loss;
  if (!opt.training) {
    for (at::Tensor& t : fast) t = t.detach();
    if (out.task_loss.defined()) out.task_loss = out.task_loss.detach();
  }
  out.fast = std::move(fast);
  return out;
}

}  // namespace mamlpp
