#include "core/meta_learner.hpp"

#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

#include "core/data_parallel.hpp"
#include "core/device.hpp"
#include "core/model_state.hpp"
#include "common/error.hpp"
#include "core/parallel.hpp"
#include "core/schedules.hpp"

namespace mamlpp {

MetaLearner::MetaLearner(const Config& cfg, at::Device device)
    : cfg_(cfg), layout_(make_layout(cfg)), device_(device), dtype_(scalar_type(cfg.dtype)) {
  if (device_.is_cuda()) use_cuda_switches();
}

namespace {
// The device of a config, after the config itself has been checked (in that order, so a bad
// config is reported as such even when it also asks for a missing GPU).
at::Device checked_device(const Config& cfg) {
  validate(cfg);
  return resolve_device(cfg.device_type, cfg.device_index);
}
}  // namespace

MetaLearner::MetaLearner(const Config& cfg) : MetaLearner(cfg, checked_device(cfg)) {
  params_ = init_meta_params(cfg_, layout_, device_, dtype_);
  adam_ = adam_init(params_.trainable(cfg_));
}

bool MetaLearner::batched_tasks() const {
  switch (cfg_.task_batching) {
    case TaskBatching::Loop: return false;
    case TaskBatching::Batched: return true;
    case TaskBatching::Auto: break;
  }
  // Measured (DESIGN.md, Performance notes): grouped convolutions lose on CPU, and are expected
  // to win on a GPU where they cut kernel launches by about B times. The MLP's batched matrix
  // products win everywhere: its layers are too small for per-task operators to pay their
  // overhead (sinusoid, 25 tasks, second order: 45 against 150 ms per step on 2 CPU cores).
  return device_.is_cuda() || cfg_.backbone == Backbone::Mlp;
}

int64_t MetaLearner::num_parameters() const {
  int64_t n = 0;
  for (const at::Tensor& t : params_.trainable(cfg_)) n += t.numel();
  return n;
}

int MetaLearner::parts_for(int64_t tasks) const { return task_workers(cfg_, device_, tasks); }

template <typename Sink>
void MetaLearner::for_each_part(const TaskTensors& batch, const InnerLoopOptions& opt, Sink&& sink) const {
  const int parts = parts_for(batch.num_tasks());
  const bool batched = batched_tasks();
  run_parts(parts, [&](int part) {
    int64_t first = 0, count = 0;
    part_range(batch.num_tasks(), parts, part, first, count);
    const TaskTensors mine = batch.slice(first, count);
    if (batched) {
      sink(part, inner_loop(cfg_, params_, mine, opt));
    } else {
      for (int64_t t = 0; t < count; ++t) sink(part, inner_loop(cfg_, params_, mine.slice(t, 1), opt));
    }
  });
}

namespace {

// What one part of a meta-batch contributes to a meta-train step.
struct PartSums {
  std::vector<at::Tensor> grads;
  std::vector<at::Tensor> losses, accuracies;
  std::vector<RowObservation> observations;
};

}  // namespace

MetaGradient MetaLearner::meta_gradient(const TaskTensors& batch) const {
  MetaGradient out;
  out.epoch = epoch_of(cfg_, step_);
  InnerLoopOptions opt;
  opt.steps = cfg_.inner_steps;
  opt.training = true;
  opt.second_order = second_order_at(cfg_, out.epoch);
  opt.query_weights = query_loss_weights(cfg_, out.epoch);
  opt.observe_running = cfg_.bn_stats == BnStats::Running;
  out.second_order = opt.second_order;

  const std::vector<at::Tensor> params = params_.trainable(cfg_);
  const double num_tasks = static_cast<double>(batch.num_tasks());
  std::vector<PartSums> parts(static_cast<size_t>(parts_for(batch.num_tasks())));

  // Meta-loss = mean of the task losses. Each graph is differentiated and freed before the next
  // is built, so a part holds one task's (or one stacked batch's) graph at a time.
  for_each_part(batch, opt, [&](int part, InnerLoopResult r) {
    PartSums& sums = parts[static_cast<size_t>(part)];
    const at::Tensor part_loss = r.task_loss.sum() / num_tasks;
    const std::vector<at::Tensor> g = torch::autograd::grad({part_loss}, params, {},
                                                            /*retain_graph=*/false,
                                                            /*create_graph=*/false,
                                                            /*allow_unused=*/true);
    sums.grads.resize(g.size());
    for (size_t k = 0; k < g.size(); ++k) {
      if (g[k].defined()) sums.grads[k] = sums.grads[k].defined() ? sums.grads[k] + g[k] : g[k];
    }
    sums.losses.push_back(r.task_loss.detach());
    sums.accuracies.push_back(r.accuracy);
    for (auto& o : r.observations) sums.observations.push_back(std::move(o));
  });

  // Reduce in part order, so the result does not depend on thread timing.
  out.grads.resize(params.size());
  std::vector<at::Tensor> losses, accuracies;
  for (PartSums& sums : parts) {
    for (size_t k = 0; k < sums.grads.size(); ++k) {
      at::Tensor& g = out.grads[k];
      if (sums.grads[k].defined()) g = g.defined() ? g + sums.grads[k] : sums.grads[k];
    }
    losses.insert(losses.end(), sums.losses.begin(), sums.losses.end());
    accuracies.insert(accuracies.end(), sums.accuracies.begin(), sums.accuracies.end());
    for (auto& o : sums.observations) out.observations.push_back(std::move(o));
  }
  for (size_t k = 0; k < out.grads.size(); ++k) {
    if (!out.grads[k].defined()) out.grads[k] = at::zeros_like(params[k]);
  }
  out.loss = at::cat(losses).mean();
  out.accuracy = at::cat(accuracies).mean();
  return out;
}

void MetaLearner::check_step_counter() const {
  if (step_ == std::numeric_limits<int64_t>::max())
    throw unsupported("meta-train step refused: the model has taken 2^63 - 1 steps, the most its "
                      "step counter holds");
}

Metrics MetaLearner::meta_train_step(const TaskTensors& batch) {
  check_step_counter();
  if (group_) return collective_step(&batch, nullptr);
  MetaGradient mg = meta_gradient(batch);
  std::vector<at::Tensor> flat;
  for (const at::Tensor& g : mg.grads) flat.push_back(g.reshape({-1}));
  flat.push_back(mg.loss.reshape({1}));
  const at::Tensor finite = at::cat(flat).isfinite().all();
  // The one host synchronisation of the step: loss, accuracy and the finiteness verdict.
  const at::Tensor host =
      at::stack({mg.loss, mg.accuracy, finite.to(mg.loss.scalar_type())}).to(at::kCPU).to(at::kDouble);
  const double* h = host.data_ptr<double>();
  if (h[2] == 0.0) {
    throw numerical_error("meta-train step " + std::to_string(step_ + 1) +
                          " rejected: the meta-loss (" + std::to_string(h[0]) +
                          ") or a meta-gradient is not finite; the model is unchanged "
                          "(lower meta_lr or inner_lr, or check the inputs)");
  }
  RunningStatSums bn;
  if (cfg_.bn_stats == BnStats::Running) bn = running_stat_sums(params_, mg.observations);
  return apply_step(mg.grads, bn, h[0], h[1], mg.epoch, mg.second_order);
}

Metrics MetaLearner::apply_step(std::vector<at::Tensor>& grads, const RunningStatSums& bn, double loss,
                                double accuracy, int64_t epoch, bool second_order) {
  if (cfg_.grad_clip > 0.0f) {
    // The reference clamps the network's parameters only (weights, biases, BN gamma and beta);
    // the LSLR table, last in Adam's order, only with grad_clip_lslr (docs/DECISIONS.md).
    const bool lslr_last = cfg_.learn_inner_lr && !cfg_.grad_clip_lslr;
    const size_t clamped = grads.size() - (lslr_last ? 1 : 0);
    for (size_t k = 0; k < clamped; ++k) grads[k] = grads[k].clamp(-cfg_.grad_clip, cfg_.grad_clip);
  }
  const double lr = cosine_meta_lr(cfg_, epoch);
  commit(next_state(grads, lr, bn, step_ + 1));

  Metrics m;
  m.loss = loss;
  m.accuracy = accuracy;
  m.meta_lr = lr;
  m.second_order = second_order;
  m.step = step_;
  m.epoch = epoch;
  return m;
}

Metrics MetaLearner::collective_step(const TaskTensors* batch, std::exception_ptr failure) {
  const std::vector<at::Tensor> params = params_.trainable(cfg_);
  const bool running = cfg_.bn_stats == BnStats::Running;
  const int64_t epoch = epoch_of(cfg_, step_);
  StepPacket packet = empty_packet(params, params_.running_mean, running);
  if (!failure) {
    try {
      MetaGradient mg = meta_gradient(*batch);
      RunningStatSums bn;
      if (running) bn = running_stat_sums(params_, mg.observations);
      fill_packet(packet, mg.grads, running ? &bn : nullptr, mg.loss, mg.accuracy,
                  static_cast<double>(batch->num_tasks()));
    } catch (...) {
      failure = std::current_exception();
      packet.flat.zero_();
    }
  }
  if (failure) packet.flat.select(0, packet.tail_offset + 3).fill_(1);

  // The one collective and the one host synchronisation of the step.
  group_->allreduce_sum(packet.flat);
  const at::Tensor host = at::cat({packet.flat.narrow(0, packet.tail_offset, 4),
                                   packet.flat.isfinite().all().to(packet.flat.scalar_type()).reshape({1})})
                              .to(at::kCPU, at::kDouble);
  const double* h = host.data_ptr<double>();
  const std::string step = "meta-train step " + std::to_string(step_ + 1);
  if (h[3] > 0) {
    const std::string together = " (" + std::to_string(static_cast<int64_t>(h[3])) + " of " +
                                 std::to_string(group_->world_size()) +
                                 " ranks failed; every rank refused this step, and the models are unchanged and "
                                 "still identical)";
    if (!failure)
      throw distributed_error(step + " refused: another rank could not compute its share" + together);
    try {
      std::rethrow_exception(failure);
    } catch (const Error& e) {
      throw Error(e.kind(), e.what() + together);
    }
  }
  if (h[4] == 0.0)
    throw numerical_error(step + " rejected on every rank: the pooled meta-loss or a meta-gradient is not finite; "
                          "the models are unchanged and still identical (lower meta_lr or inner_lr, or check the inputs)");
  const double tasks = h[2];
  std::vector<at::Tensor> grads = packet_gradients(packet, params, tasks);
  RunningStatSums bn;
  if (running) bn = packet_bn_sums(packet, params_.running_mean);
  const double accuracy =
      cfg_.task_kind == TaskKind::Regression ? std::numeric_limits<double>::quiet_NaN() : h[1] / tasks;
  return apply_step(grads, bn, h[0] / tasks, accuracy, epoch, second_order_at(cfg_, epoch));
}

void MetaLearner::refuse_step_together(std::exception_ptr failure) {
  if (!group_) std::rethrow_exception(failure);
  collective_step(nullptr, failure);
  std::rethrow_exception(failure);  // not reached: the collective step rethrows it
}

void MetaLearner::attach(std::shared_ptr<Group> group) {
  if (!group) throw invalid_argument("group must not be NULL");
  const std::vector<NamedTensor> state = export_state(cfg_, params_, &adam_);
  require_agreement(group->all_gather_text(attach_fingerprint(cfg_, device_, dtype_, step_, state)));
  // Equal by the checksums; made bitwise rank 0's by the broadcast, written only once it arrived.
  const std::vector<at::Tensor> views = state_views(cfg_, params_, &adam_);
  std::vector<at::Tensor> flat;
  for (const at::Tensor& v : views) flat.push_back(v.detach().reshape({-1}));
  at::Tensor all = at::cat(flat);
  group->broadcast(all, 0);
  // The counters as int64 (c10d carries integer tensors as they are).
  at::Tensor counters = at::tensor({step_, adam_.steps}, at::TensorOptions().dtype(at::kLong));
  group->broadcast(counters, 0);
  at::NoGradGuard no_grad;
  int64_t at = 0;
  for (const at::Tensor& v : views) {
    v.copy_(all.narrow(0, at, v.numel()).view(v.sizes()));
    at += v.numel();
  }
  step_ = counters[0].item<int64_t>();
  adam_.steps = counters[1].item<int64_t>();
  group_ = std::move(group);
}

MetaLearner::NextState MetaLearner::next_state(const std::vector<at::Tensor>& grads, double lr,
                                               const RunningStatSums& bn, int64_t step) const {
  at::NoGradGuard no_grad;
  const std::vector<at::Tensor> trainable = params_.trainable(cfg_);
  AdamResult adam = adam_next(trainable, grads, adam_, lr, cfg_.adam_beta1, cfg_.adam_beta2);
  NextState next;
  next.trainable = std::move(adam.params);
  next.adam = std::move(adam.state);
  next.step = step;
  if (cfg_.bn_stats == BnStats::Running) running_stats_after(params_, bn, next.running_mean, next.running_var);

  // One host synchronisation: is every new value finite?
  std::vector<at::Tensor> finite;
  auto add = [&](const std::vector<at::Tensor>& ts) {
    for (const at::Tensor& t : ts) finite.push_back(t.isfinite().all());
  };
  add(next.trainable);
  add(next.adam.m);
  add(next.adam.v);
  add(next.running_mean);
  add(next.running_var);
  if (!at::stack(finite).all().item<bool>())
    throw numerical_error("meta-train step " + std::to_string(step) +
                          " rejected: the update would make a parameter, an Adam moment or a batch-norm "
                          "statistic overflow; the model is unchanged (lower meta_lr, or check the inputs' scale)");
  for (size_t k = 0; k < trainable.size(); ++k) next.trainable[k].requires_grad_(trainable[k].requires_grad());
  return next;
}

void MetaLearner::commit(NextState&& next) noexcept {
  // Only handles move from here on: nothing can fail half-way.
  params_.swap_trainable(cfg_, next.trainable);
  std::swap(adam_, next.adam);
  if (!next.running_mean.empty()) {
    std::swap(params_.running_mean, next.running_mean);
    std::swap(params_.running_var, next.running_var);
  }
  step_ = next.step;
}

Metrics MetaLearner::evaluate(const TaskTensors& batch) const {
  InnerLoopOptions opt;
  opt.steps = cfg_.eval_inner_steps;
  const size_t parts = static_cast<size_t>(parts_for(batch.num_tasks()));
  std::vector<std::vector<at::Tensor>> part_losses(parts), part_accuracies(parts);
  for_each_part(batch, opt, [&](int part, InnerLoopResult r) {
    part_losses[static_cast<size_t>(part)].push_back(r.task_loss);
    part_accuracies[static_cast<size_t>(part)].push_back(r.accuracy);
  });
  std::vector<at::Tensor> losses, accuracies;
  for (size_t p = 0; p < parts; ++p) {
    losses.insert(losses.end(), part_losses[p].begin(), part_losses[p].end());
    accuracies.insert(accuracies.end(), part_accuracies[p].begin(), part_accuracies[p].end());
  }
  const at::Tensor host =
      at::stack({at::cat(losses).mean(), at::cat(accuracies).mean()}).to(at::kCPU).to(at::kDouble);
  const double* h = host.data_ptr<double>();
  if (!std::isfinite(h[0])) throw numerical_error("evaluation loss is not finite");
  Metrics m;
  m.loss = h[0];
  m.accuracy = h[1];
  m.meta_lr = cosine_meta_lr(cfg_, epoch_of(cfg_, step_));
  m.second_order = false;
  m.step = step_;
  m.epoch = epoch_of(cfg_, step_);
  return m;
}

std::vector<std::shared_ptr<const Learner>> MetaLearner::adapt(const TaskTensors& support) const {
  InnerLoopOptions opt;
  opt.steps = cfg_.eval_inner_steps;
  // Fast weights of each task, [1, ...], gathered per part and then in task order.
  std::vector<std::vector<std::vector<at::Tensor>>> per_part(static_cast<size_t>(parts_for(support.num_tasks())));
  for_each_part(support, opt, [&](int part, InnerLoopResult r) {
    for (int64_t t = 0; t < r.fast.front().size(0); ++t) {
      std::vector<at::Tensor> fast;
      for (const at::Tensor& w : r.fast) fast.push_back(w.narrow(0, t, 1).clone());
      per_part[static_cast<size_t>(part)].push_back(std::move(fast));
    }
  });
  std::vector<std::vector<at::Tensor>> per_task;
  for (auto& part : per_part)
    for (auto& fast : part) per_task.push_back(std::move(fast));
  {
    std::vector<at::Tensor> flat;
    for (const auto& fast : per_task)
      for (const at::Tensor& w : fast) flat.push_back(w.reshape({-1}));
    if (!at::cat(flat).isfinite().all().item<bool>())
      throw numerical_error("adaptation diverged: the adapted weights are not finite");
  }

  at::NoGradGuard no_grad;
  const int64_t row = bn_row(cfg_, cfg_.eval_inner_steps - 1);
  const BnMode mode = cfg_.bn_stats == BnStats::Transductive ? BnMode::Batch : BnMode::Given;
  std::vector<std::shared_ptr<const Learner>> out;
  for (size_t t = 0; t < per_task.size(); ++t) {
    BnSpec spec = bn_spec(params_, row, mode, /*detach=*/true);
    for (BnLayer& layer : spec.layers) {  // the learner owns its copies
      layer.gamma = layer.gamma.clone();
      layer.beta = layer.beta.clone();
      if (layer.mean.defined()) layer.mean = layer.mean.clone();
      if (layer.var.defined()) layer.var = layer.var.clone();
    }
    if (cfg_.bn_stats == BnStats::Support) {
      // Statistics of the support set at the adapted weights, kept for every later prediction.
      BnSpec batch = bn_spec(params_, row, BnMode::Batch, true);
      BnObservation obs;
      batch.observe = &obs;
      forward(cfg_, support.support_x.narrow(0, static_cast<int64_t>(t), 1), per_task[t], batch);
      for (size_t s = 0; s < spec.layers.size(); ++s) {
        spec.layers[s].mean = obs.mean[s].reshape({-1});
        spec.layers[s].var = obs.var[s].reshape({-1});
      }
    }
    out.push_back(std::make_shared<const Learner>(cfg_, std::move(per_task[t]), std::move(spec)));
  }
  return out;
}

std::vector<double> MetaLearner::inner_lrs() const {
  const at::Tensor t = params_.lslr.detach().to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

std::vector<NamedTensor> MetaLearner::state(bool with_optimizer) const {
  return export_state(cfg_, params_, with_optimizer ? &adam_ : nullptr);
}

std::unique_ptr<MetaLearner> MetaLearner::from_state(const Config& cfg, int64_t step, bool has_optimizer,
                                                     const std::vector<NamedTensor>& tensors,
                                                     at::Device device) {
  validate(cfg);
  std::unique_ptr<MetaLearner> m(new MetaLearner(cfg, device));
  m->params_ = init_meta_params(cfg, m->layout_, device, m->dtype_);
  m->adam_ = adam_init(m->params_.trainable(cfg));
  import_state(cfg, tensors, m->params_, has_optimizer ? &m->adam_ : nullptr);
  if (has_optimizer) m->adam_.steps = step;
  m->step_ = step;
  return m;
}

}  // namespace mamlpp
