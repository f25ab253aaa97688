// mamlpp train: meta-train with MAML++ from a config file and/or flags; checkpoints every epoch,
// best-k pruning, metrics file, --resume.
#include <CLI/CLI.hpp>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/checkpoints.hpp"
#include "cli/commands.hpp"
#include "cli/datasets.hpp"
#include "cli/errors.hpp"
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

int run_train(const TrainOptions& o) {
  if (o.list_keys) {
    std::cout << keys_table_text();
    return kExitOk;
  }
  const bool resuming = !o.resume.empty();
  std::unique_ptr<CheckpointDir> ckpt;
  RunState state;
  json canonical;
  if (resuming) {
    if (!o.flags.config_path.empty())
      throw usage_error("--resume continues a run with the settings saved in its state.json; drop --config");
    ckpt = std::make_unique<CheckpointDir>(o.resume, 1);
    state = ckpt->load_state();
    // Only what does not change the model or the data stream may differ on resume.
    canonical = resolve_settings(o.flags, state.config,
                                 [](const KeyDef& k) { return k.group == KeyGroup::Run && k.name != "out"; });
    canonical["out"] = o.resume;
  } else {
    canonical = resolve_settings(o.flags);
    absolutise_paths(canonical);
  }
  const std::string where = resuming ? ckpt->state_path() : (o.flags.config_path.empty() ? "command line" : o.flags.config_path);
  Settings s = decode_settings(canonical);
  check_settings(s, where);
  if (o.print_config) {
    std::cout << canonical.dump(2) << "\n";
    return kExitOk;
  }
  if (s.out.empty()) throw usage_error("train needs --out DIR: the folder for checkpoints, latest.maml and state.json");

  install_stop_handlers();
  // The model first: a config the library refuses is reported before any data is loaded.
  Model model;
  if (!resuming) {
    model = Model::create(s.model);
    if (CheckpointDir::has_state(s.out))
      throw usage_error(s.out + ": already holds a training run (state.json); continue it with 'mamlpp train --resume " +
                        s.out + "' or choose another --out");
    ckpt = std::make_unique<CheckpointDir>(s.out, s.keep_best);
    state.config = canonical;
    state.train_seed = s.train_seed;
  } else {
    ckpt->set_keep_best(s.keep_best);
    ckpt->lock_and_clean(s.metrics);
    state = ckpt->load_state();  // again, now that the folder is ours
    model = ckpt->load_resume_model(state, s.model);
    if (!model) model = Model::create(s.model);
    if (s.train_seed != state.train_seed)
      throw model_error(ckpt->state_path() + ": train_seed disagrees with the saved data stream");
    if (!s.metrics.empty()) write_metrics(s.metrics, state.history);  // heal a crash after the commit
  }
  state.sessions += 1;
  const maml_config mc = model.config();
  const int64_t iters = mc.iters_per_epoch;
  const int32_t epochs = mc.epochs;
  const int64_t total = iters * epochs;
  int64_t step = model.step();
  if (step % iters != 0)
    throw model_error("the model is at step " + std::to_string(step) + ", not at the end of an epoch of " +
                      std::to_string(iters) + " steps; cannot continue the data stream exactly");

  std::printf("mamlpp train: %s\n", describe_model(mc, s).c_str());
  std::printf("model:  %s parameters on %s; %d epochs x %" PRId64 " steps; output %s\n",
              std::to_string(model.num_parameters()).c_str(), model.device_name().c_str(), epochs, iters,
              ckpt->dir().c_str());
  if (resuming)
    std::printf("resume: epoch %d of %d completed (step %" PRId64 "); continuing the training task stream at batch %" PRId64 "\n",
                state.epochs_completed, epochs, step, step);
  std::fflush(stdout);
  if (step >= total) {
    std::printf("nothing to do: all %d epochs are complete (best: %s)\n", epochs,
                state.best.empty() ? "-" : ckpt->path(state.best.front().file).c_str());
    return kExitOk;
  }

  DataSource data(s);
  std::fprintf(stderr, "loading %s ...\n", data.description().c_str());
  std::optional<data::EpisodeSampler> train_sampler;
  train_sampler.emplace(data.sampler(SplitName::Train, s.batch_size, s.train_seed, data.augment_training()));
  std::optional<data::EpisodeSampler> val_sampler;
  if (s.val_tasks > 0) val_sampler.emplace(data.sampler(SplitName::Val, s.eval_batch(), s.val_seed, false));
  std::printf("data:   %s; train %d classes%s%s, loaded in %.1f s\n", data.description().c_str(),
              train_sampler->split().size(), data.augment_training() ? " (rotation augmentation)" : "",
              val_sampler ? (", val " + std::to_string(val_sampler->split().size()) + " classes, " +
                             std::to_string(s.val_tasks) + " fixed val tasks").c_str()
                          : ", no validation",
              data.load_seconds());
  std::fflush(stdout);
  if (!resuming) {
    // Only now that the data is known to be usable: the folder, its lock and a first state.json,
    // so --resume works even before the first epoch ends.
    ckpt->create_new();
    ckpt->lock_and_clean(s.metrics);
    write_json_file(ckpt->state_path(), to_json(state));
  }

  data::PrefetchOptions po;
  po.workers = s.workers;
  po.capacity = s.prefetch;
  po.first_batch = step;
  po.num_batches = total - step;
  data::Prefetcher prefetch(*train_sampler, po);
  Progress progress(step, total, static_cast<int32_t>(iters), epochs, s.log_every, !o.no_progress);

  auto last_good = [&]() -> std::string {
    if (state.epochs_completed == 0) return std::string("No epoch had completed, so no checkpoint was written");
    return "The last good checkpoint, " + ckpt->latest_path() + " (epoch " + std::to_string(state.epochs_completed) +
           "), is intact";
  };
  auto on_numerical = [&]() {
    return last_good() + ". Start a new run with a lower meta_lr or inner_lr, or with grad_clip set "
                         "(e.g. --set grad_clip=10).";
  };
  auto on_interrupt = [&](int64_t at) {
    return "interrupted at step " + std::to_string(at) + ". " + last_good() +
           ". Continue with: mamlpp train --resume " + ckpt->dir();
  };

  double session_wait_start = 0;
  for (int32_t epoch = static_cast<int32_t>(step / iters) + 1; epoch <= epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const double wait0 = prefetch.wait_stats().total_seconds;
    const StepTotals st = train_steps(model, prefetch, epoch * iters, &progress, on_numerical, on_interrupt);
    step = model.step();
    ValScore val;
    if (val_sampler) {
      // Between validation tasks too: a stop request must not wait for val_tasks tasks.
      val = validate(model, *val_sampler, s.val_tasks, s.eval_batch(), [&] {
        if (stop_requested()) throw CliError(kExitInterrupted, on_interrupt(step));
      });
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double wait = prefetch.wait_stats().total_seconds - wait0;
    json row = {{"epoch", epoch},
                {"step", step},
                {"train_loss", st.mean_loss()},
                {"train_acc", st.mean_acc()},
                {"val_loss", val_sampler ? json(val.loss) : json()},
                {"val_acc", val_sampler ? json(val.accuracy) : json()},
                {"meta_lr", st.last_meta_lr},
                {"second_order", st.last_second_order},
                {"seconds", seconds},
                {"wait_seconds", wait}};
    state.history.push_back(row);
    state.train_seconds += seconds;
    state.wait_seconds += wait;
    state.score_name = val_sampler ? "val_acc" : "train_acc";
    const double score = val_sampler ? val.accuracy : st.mean_acc();
    ckpt->commit_epoch(model, state, epoch, score, val.loss);
    if (!s.metrics.empty()) write_metrics(s.metrics, state.history);
    progress.clear();
    const bool best = !state.best.empty() && state.best.front().epoch == epoch;
    std::printf("epoch %d/%d  step %" PRId64 "  train loss %.4f acc %s", epoch, epochs, step, st.mean_loss(),
                percent(st.mean_acc()).c_str());
    if (val_sampler) std::printf("  val loss %.4f acc %s%s", val.loss, percent(val.accuracy).c_str(), best ? " (best)" : "");
    std::printf("  %.1f s (data wait %.2f s)  -> %s\n", seconds, wait, CheckpointDir::epoch_file(epoch).c_str());
    std::fflush(stdout);
  }
  (void)session_wait_start;
  const data::WaitStats ws = prefetch.wait_stats();
  progress.clear();
  std::printf("done: %d epochs, %" PRId64 " steps; %.1f s training in total\n", epochs, step, state.train_seconds);
  std::printf("data wait: %.3f s in this session over %" PRId64 " steps (mean %.2f ms, max %.1f ms per step); %.3f s over the run\n",
              ws.total_seconds, ws.calls, 1000.0 * ws.mean_seconds(), 1000.0 * ws.max_seconds, state.wait_seconds);
  if (!state.best.empty()) {
    std::printf("best (%s):", state.score_name.c_str());
    for (const BestEntry& b : state.best) std::printf("  %s %s", b.file.c_str(), percent(b.score).c_str());
    std::printf("\nmodel:  %s  (eval with: mamlpp eval --checkpoints %s)\n", ckpt->latest_path().c_str(), ckpt->dir().c_str());
  }
  return kExitOk;
}

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
