// mamlpp train: meta-train with MAML++ from a config file and/or flags; checkpoints every epoch,
// best-k pruning, metrics file, --resume.
#include <CLI/CLI.hpp>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>

#include "cli/checkpoints.hpp"
#include "cli/cluster.hpp"
#include "cli/commands.hpp"
#include "cli/datasets.hpp"
#include "cli/errors.hpp"
#include "cli/images.hpp"
#include "cli/key_flags.hpp"
#include "cli/metrics_writer.hpp"
#include "cli/progress.hpp"
#include "cli/settings.hpp"
#include "cli/signals.hpp"
#include "cli/task_eval.hpp"
#include "cli/trainer.hpp"

namespace mamlpp::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct TrainOptions {
  KeyFlags flags;
  std::string resume;
  bool list_keys = false;
  bool print_config = false;
  bool no_progress = false;
};

std::string absolute(const std::string& p) {
  if (p.empty()) return p;
  std::error_code ec;
  const fs::path a = fs::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

// Paths in the saved settings are absolute, so --resume works from any working folder.
void absolutise_paths(json& c) {
  for (const char* k : {"data_dir", "split_dir", "metrics"}) c[k] = absolute(c[k].get<std::string>());
  json archives = json::array();
  for (const auto& a : c["archives"]) archives.push_back(absolute(a.get<std::string>()));
  c["archives"] = archives;
}

// The score of an epoch whose validation diverged: below every real one, and finite for state.json.
constexpr double kUnscored = -std::numeric_limits<double>::max();

std::string percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * v);
  return buf;
}

std::string describe_model(const maml_config& c, const Settings& s) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%d-way %d-shot %d-query, %d tasks per meta-batch, %dx%dx%d images, %d stages x %d filters%s, "
                "%d inner steps (eval %d), inner_lr %g%s%s, %s, meta_lr %g -> %g",
                c.n_way, s.k_shot, s.q_query, s.batch_size, c.image_channels, c.image_height, c.image_width,
                c.num_stages, c.num_filters, c.max_pool ? "" : " (strided)", c.inner_steps, c.eval_inner_steps,
                static_cast<double>(c.inner_lr), c.learn_inner_lr ? " + LSLR" : "",
                c.per_step_bn ? ", per-step BN" : "",
                !c.second_order ? "first order"
                : c.first_order_epochs > 0 ? ("first order for " + std::to_string(c.first_order_epochs) +
                                              " epochs, then second order").c_str()
                                           : "second order",
                static_cast<double>(c.meta_lr), static_cast<double>(c.meta_lr_min));
  std::string out = buf;
  if (c.multi_step_loss) out += ", MSL for " + std::to_string(c.msl_epochs) + " epochs";
  return out;
}

// One `mamlpp train` invocation, new or resumed, in the order it happens: settings, model and
// run folder, plan, data, epochs, summary. Each step is one member.
//
// Under torchrun (WORLD_SIZE > 1) every rank runs this: each joins the process group, attaches
// its model (every rank then holds rank 0's), draws its own share of each meta-batch, and steps
// collectively; rank 0 alone writes the run folder, the metrics and progress, and the other ranks
// print only errors. When torchrun restarts the workers (--max_restarts), a run folder that holds
// a state.json is continued as with --resume.
class TrainRun {
 public:
  explicit TrainRun(const TrainOptions& o) : o_(o), resuming_(!o.resume.empty()) {}

  int run() {
    if (o_.list_keys) {
      std::cout << keys_table_text();
      return kExitOk;
    }
    resolve_settings_();
    if (o_.print_config) {
      std::cout << canonical_.dump(2) << "\n";
      return kExitOk;
    }
    if (s_.out.empty()) throw usage_error("train needs --out DIR: the folder for checkpoints, latest.maml and state.json");
    join_cluster();
    install_stop_handlers();
    open_model_and_folder();
    if (!print_plan()) return kExitOk;
    load_data();
    run_epochs();
    print_summary();
    return kExitOk;
  }

 private:
  // Settings: a new run's from defaults, --config and flags; a resumed run's from its state.json,
  // where only run keys may change.
  const TrainOptions& opts() const { return resumed_options_ ? *resumed_options_ : o_; }

  void resolve_settings_() {
    const TrainOptions& o = opts();
    if (resuming_) {
      if (!o.flags.config_path.empty())
        throw usage_error("--resume continues a run with the settings saved in its state.json; drop --config");
      ckpt_ = std::make_unique<CheckpointDir>(o.resume, 1);
      state_ = ckpt_->load_state();
      // Only what does not change the model or the data stream may differ on resume.
      canonical_ = resolve_settings(o.flags, state_.config,
                                    [](const KeyDef& k) { return k.group == KeyGroup::Run && k.name != "out"; });
      canonical_["out"] = o.resume;
    } else {
      canonical_ = resolve_settings(o.flags);
      absolutise_paths(canonical_);
    }
    const std::string where =
        resuming_ ? ckpt_->state_path() : (o.flags.config_path.empty() ? "command line" : o.flags.config_path);
    s_ = decode_settings(canonical_);
    check_settings(s_, where);
  }

  // Under torchrun: join the group, continue the run after a restart, and quieten ranks but 0.
  void join_cluster() {
    Cluster::check_batch(s_.batch_size);
    cluster_ = Cluster::from_env(s_.dist_timeout);
    if (!cluster_) return;
    if (!cluster_->leader()) {
      // Errors still reach stderr; the plan, progress and epoch lines come from rank 0 only.
      if (std::freopen("/dev/null", "w", stdout) == nullptr) throw runtime_failure("cannot silence rank output");
      no_progress_ = true;
    }
    if (!resuming_ && torchrun_restart_count() > 0 && CheckpointDir::has_state(s_.out)) {
      std::fprintf(stderr, "mamlpp train: torchrun restarted the workers (restart %d); continuing the run in %s\n",
                   torchrun_restart_count(), s_.out.c_str());
      resuming_ = true;
      TrainOptions again;
      again.resume = s_.out;
      resumed_options_ = again;
      resolve_settings_();
    }
    if (s_.model.device_type != MAML_DEVICE_CPU) s_.model.device_index = cluster_->local_rank();
  }
  bool leader() const { return !cluster_ || cluster_->leader(); }

  // The model first: a config the library refuses is reported before any data is loaded.
  void open_model_and_folder() {
    // Only rank 0 writes the folder; the other ranks read it when resuming (torchrun runs across
    // machines need it on a shared file system for --resume, as any torchrun checkpoint does).
    if (!resuming_) {
      model_ = Model::create(s_.model);
      if (leader() && CheckpointDir::has_state(s_.out))
        throw usage_error(s_.out + ": already holds a training run (state.json); continue it with 'mamlpp train --resume " +
                          s_.out + "' or choose another --out");
      ckpt_ = std::make_unique<CheckpointDir>(s_.out, s_.keep_best);
      state_.config = canonical_;
      state_.train_seed = s_.train_seed;
    } else {
      ckpt_->set_keep_best(s_.keep_best);
      if (leader()) ckpt_->lock_and_clean(s_.metrics);
      state_ = ckpt_->load_state();  // again, now that the folder is ours
      model_ = ckpt_->load_resume_model(state_, s_.model);
      if (!model_) model_ = Model::create(s_.model);
      if (s_.train_seed != state_.train_seed)
        throw model_error(ckpt_->state_path() + ": train_seed disagrees with the saved data stream");
      if (leader() && !s_.metrics.empty()) write_metrics(s_.metrics, state_.history);  // heal a crash after the commit
    }
    // Collective: the ranks agree on the config and model, and every rank then holds rank 0's.
    if (cluster_) cluster_->attach(model_);
    // The preprocessing travels inside every file the run writes, so that a .maml copied away
    // from its state.json still predicts on the images it was trained for (docs/CLI.md).
    model_.set_metadata(kPreprocessingKey, preprocessing_metadata(canonical_));
    state_.sessions += 1;
  }

  // What will run; false when every epoch is already done.
  bool print_plan() {
    const maml_config mc = model_.config();
    iters_ = mc.iters_per_epoch;
    epochs_ = mc.epochs;
    total_ = iters_ * epochs_;
    step_ = model_.step();
    if (step_ % iters_ != 0)
      throw model_error("the model is at step " + std::to_string(step_) + ", not at the end of an epoch of " +
                        std::to_string(iters_) + " steps; cannot continue the data stream exactly");
    std::printf("mamlpp train: %s\n", describe_model(mc, s_).c_str());
    std::printf("model:  %s parameters on %s; %d epochs x %" PRId64 " steps; output %s\n",
                std::to_string(model_.num_parameters()).c_str(), model_.device_name().c_str(), epochs_, iters_,
                ckpt_->dir().c_str());
    if (cluster_) {
      int32_t offset = 0, count = 0;
      cluster_->share(s_.batch_size, offset, count);
      std::printf("ranks:  %d processes (torchrun), each adapting its share of every meta-batch of %d tasks "
                  "(rank 0: %d); one all-reduce per step averages over all %d\n",
                  cluster_->world_size(), s_.batch_size, count, s_.batch_size);
    }
    if (resuming_)
      std::printf("resume: epoch %d of %d completed (step %" PRId64 "); continuing the training task stream at batch %" PRId64 "\n",
                  state_.epochs_completed, epochs_, step_, step_);
    std::fflush(stdout);
    if (step_ < total_) return true;
    std::printf("nothing to do: all %d epochs are complete (best: %s)\n", epochs_,
                state_.best.empty() ? "-" : ckpt_->path(state_.best.front().file).c_str());
    return false;
  }

  // The data and its samplers; for a new run, then the folder, its lock and a first state.json,
  // so --resume works even before the first epoch ends.
  void load_data() {
    data_ = std::make_unique<DataSource>(s_);
    if (leader()) std::fprintf(stderr, "loading %s ...\n", data_->description().c_str());
    train_sampler_.emplace(data_->sampler(SplitName::Train, s_.batch_size, s_.train_seed, data_->augment_training()));
    if (s_.val_tasks > 0) val_sampler_.emplace(data_->sampler(SplitName::Val, s_.eval_batch(), s_.val_seed, false));
    std::printf("data:   %s; train %d classes%s%s, loaded in %.1f s\n", data_->description().c_str(),
                train_sampler_->split().size(), data_->augment_training() ? " (rotation augmentation)" : "",
                val_sampler_ ? (", val " + std::to_string(val_sampler_->split().size()) + " classes, " +
                                std::to_string(s_.val_tasks) + " fixed val tasks").c_str()
                             : ", no validation",
                data_->load_seconds());
    std::fflush(stdout);
    if (!resuming_ && leader()) {
      ckpt_->create_new();
      ckpt_->lock_and_clean(s_.metrics);
      write_json_file(ckpt_->state_path(), to_json(state_));
    }
  }

  std::string last_good() const {
    if (state_.epochs_completed == 0) return std::string("No epoch had completed, so no checkpoint was written");
    return "The last good checkpoint, " + ckpt_->latest_path() + " (epoch " + std::to_string(state_.epochs_completed) +
           "), is intact";
  }
  std::string on_numerical() const {
    return last_good() + ". Start a new run with a lower meta_lr or inner_lr, or with grad_clip set "
                         "(e.g. --set grad_clip=10).";
  }
  std::string on_interrupt(int64_t at) const {
    return "interrupted at step " + std::to_string(at) + ". " + last_good() +
           ". Continue with: mamlpp train --resume " + ckpt_->dir();
  }

  void run_epochs() {
    data::PrefetchOptions po;
    po.workers = s_.workers;
    po.capacity = s_.prefetch;
    po.first_batch = step_;
    po.num_batches = total_ - step_;
    if (cluster_) cluster_->share(s_.batch_size, po.task_offset, po.task_count);
    prefetch_ = std::make_unique<data::Prefetcher>(*train_sampler_, po);
    Progress progress(step_, total_, static_cast<int32_t>(iters_), epochs_, s_.log_every, !o_.no_progress && !no_progress_);
    for (int32_t epoch = static_cast<int32_t>(step_ / iters_) + 1; epoch <= epochs_; ++epoch) run_epoch(epoch, progress);
    progress.clear();
  }

  // One epoch: its steps, validation (stoppable between tasks), the commit, the metrics file.
  void run_epoch(int32_t epoch, Progress& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    const double wait0 = prefetch_->wait_stats().total_seconds;
    const StepTotals st = train_steps(model_, *prefetch_, epoch * iters_, &progress, [this] { return on_numerical(); },
                                      [this](int64_t at) { return on_interrupt(at); });
    step_ = model_.step();
    ValScore val;
    if (val_sampler_) {
      // Between validation tasks too: a stop request must not wait for val_tasks tasks.
      val = validate(model_, *val_sampler_, s_.val_tasks, s_.eval_batch(), [&] {
        if (stop_requested()) throw CliError(kExitInterrupted, on_interrupt(step_));
      }, cluster_.get());
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double wait = prefetch_->wait_stats().total_seconds - wait0;
    const bool regression = s_.model.task_kind == MAML_TASK_REGRESSION;
    // A validation whose adaptation diverged on some tasks has no score: null in the history,
    // and the epoch ranks below every other.
    const bool scored = val_sampler_ && val.diverged == 0;
    json row = {{"epoch", epoch},
                {"step", step_},
                {"train_loss", st.mean_loss()},
                {"train_acc", regression ? json() : json(st.mean_acc())},
                {"val_loss", scored ? json(val.loss) : json()},
                {"val_acc", scored && !regression ? json(val.accuracy) : json()},
                {"meta_lr", st.last_meta_lr},
                {"second_order", st.last_second_order},
                {"seconds", seconds},
                {"wait_seconds", wait}};
    state_.history.push_back(row);
    state_.train_seconds += seconds;
    state_.wait_seconds += wait;
    // Checkpoints are ranked by accuracy, or for regression (no accuracy) by the negated loss.
    state_.score_name = regression ? (val_sampler_ ? "-val_loss" : "-train_loss") : val_sampler_ ? "val_acc" : "train_acc";
    const double score = val_sampler_ && !scored ? kUnscored
                         : regression           ? -(val_sampler_ ? val.loss : st.mean_loss())
                         : val_sampler_         ? val.accuracy
                                                : st.mean_acc();
    if (leader()) {
      ckpt_->commit_epoch(model_, state_, epoch, score, scored ? val.loss : std::numeric_limits<double>::quiet_NaN());
      if (!s_.metrics.empty()) write_metrics(s_.metrics, state_.history);
    }
    progress.clear();
    const bool best = !state_.best.empty() && state_.best.front().epoch == epoch;
    if (val_sampler_ && !scored) {
      std::printf("epoch %d/%d  step %" PRId64 "  train %s %.4f  val diverged on %" PRId64 " of %d tasks (adaptation "
                  "not finite: fewer eval_inner_steps or a lower inner_lr may help)",
                  epoch, epochs_, step_, regression ? "mse" : "loss", st.mean_loss(), val.diverged, s_.val_tasks);
    } else if (regression) {
      std::printf("epoch %d/%d  step %" PRId64 "  train mse %.4f", epoch, epochs_, step_, st.mean_loss());
      if (val_sampler_) std::printf("  val mse %.4f%s", val.loss, best ? " (best)" : "");
    } else {
      std::printf("epoch %d/%d  step %" PRId64 "  train loss %.4f acc %s", epoch, epochs_, step_, st.mean_loss(),
                  percent(st.mean_acc()).c_str());
      if (val_sampler_)
        std::printf("  val loss %.4f acc %s%s", val.loss, percent(val.accuracy).c_str(), best ? " (best)" : "");
    }
    std::printf("  %.1f s (data wait %.2f s)  -> %s\n", seconds, wait, CheckpointDir::epoch_file(epoch).c_str());
    std::fflush(stdout);
  }

  void print_summary() const {
    const data::WaitStats ws = prefetch_->wait_stats();
    std::printf("done: %d epochs, %" PRId64 " steps; %.1f s training in total\n", epochs_, step_, state_.train_seconds);
    std::printf("data wait: %.3f s in this session over %" PRId64 " steps (mean %.2f ms, max %.1f ms per step); %.3f s over the run\n",
                ws.total_seconds, ws.calls, 1000.0 * ws.mean_seconds(), 1000.0 * ws.max_seconds, state_.wait_seconds);
    if (state_.best.empty()) return;
    std::printf("best (%s):", state_.score_name.c_str());
    for (const BestEntry& b : state_.best) {
      if (b.score == kUnscored) std::printf("  %s (validation diverged)", b.file.c_str());
      else if (state_.score_name[0] == '-') std::printf("  %s mse %.4f", b.file.c_str(), -b.score);
      else std::printf("  %s %s", b.file.c_str(), percent(b.score).c_str());
    }
    std::printf("\nmodel:  %s  (eval with: mamlpp eval --checkpoints %s)\n", ckpt_->latest_path().c_str(),
                ckpt_->dir().c_str());
  }

  const TrainOptions& o_;
  std::optional<TrainOptions> resumed_options_;  // a torchrun restart continuing the run folder
  bool resuming_;
  bool no_progress_ = false;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<CheckpointDir> ckpt_;
  RunState state_;
  json canonical_;
  Settings s_;
  Model model_;
  int64_t iters_ = 0, total_ = 0, step_ = 0;
  int32_t epochs_ = 0;
  std::unique_ptr<DataSource> data_;
  std::optional<data::EpisodeSampler> train_sampler_, val_sampler_;
  std::unique_ptr<data::Prefetcher> prefetch_;
};

int run_train(const TrainOptions& o) { return TrainRun(o).run(); }

}  // namespace

Command add_train_command(CLI::App& root) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* app = root.add_subcommand("train", "Meta-train a model with MAML++; checkpoint every epoch");
  add_config_option(app, o->flags);
  add_key_flag(app, o->flags, "out", "--out,-o");
  app->add_option("--resume", o->resume,
                  "continue the run in DIR from latest.maml + state.json (same settings, same data stream)")
      ->type_name("DIR");
  add_key_flags(app, o->flags,
                {"metrics", "keep_best", "dataset", "data_dir", "archives", "split", "split_dir", "n_way", "k_shot",
                 "q_query", "batch_size", "epochs", "iters_per_epoch", "val_tasks", "num_filters", "num_stages",
                 "inner_steps", "eval_inner_steps", "inner_lr", "meta_lr", "second_order", "first_order_epochs",
                 "image_height", "image_width", "image_channels", "seed", "train_seed", "val_seed"});
  add_key_flag(app, o->flags, "device_type", "--device");
  add_key_flag(app, o->flags, "num_threads", "--threads");
  add_key_flags(app, o->flags, {"task_batching", "workers", "log_every"});
  add_set_option(app, o->flags);
  app->add_flag("--no-progress", o->no_progress, "no progress bar or progress lines on stderr");
  app->add_flag("--list-keys", o->list_keys, "print every accepted config key (ours and the reference's) and exit");
  app->add_flag("--print-config", o->print_config, "print the resolved settings as JSON and exit");
  app->footer(
      "Settings: defaults <- --config FILE <- flags (--set KEY=VALUE sets any key).\n"
      "Examples:\n"
      "  mamlpp train --out runs/syn --epochs 10 --iters-per-epoch 100 --num-filters 32 --metrics runs/syn.csv\n"
      "  mamlpp train -c omniglot_maml++-omniglot_1_8_0.1_64_5_0.json --dataset omniglot --data-dir data/omniglot --out runs/omni\n"
      "  mamlpp train --resume runs/omni\n"
      "Exit codes: 0 ok, 1 usage/config, 2 data, 3 model/checkpoint file, 4 runtime, 130 interrupted.");
  return {app, [o] { return run_train(*o); }};
}

}  // namespace mamlpp::cli
