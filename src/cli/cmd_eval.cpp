// mamlpp eval: accuracy of a model (or an ensemble of a run's best checkpoints) on N fixed test
// tasks, with a 95% confidence interval.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/checkpoints.hpp"
#include "cli/commands.hpp"
#include "cli/datasets.hpp"
#include "cli/errors.hpp"
#include "cli/key_flags.hpp"
#include "cli/settings.hpp"
#include "cli/stats.hpp"
#include "cli/task_eval.hpp"

namespace mamlpp::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct EvalOptions {
  KeyFlags flags;
  std::vector<std::string> models;
  std::string checkpoints;
  int32_t ensemble = 0;
  std::string on = "test";
  std::string json_out;
};

bool eval_key_allowed(const KeyDef& k) {
  return k.group == KeyGroup::Data || k.name == "device_type" || k.name == "device_index";
}

std::string state_beside(const std::string& model_path) {
  const fs::path dir = fs::path(model_path).parent_path();
  return CheckpointDir::has_state(dir.empty() ? "." : dir.string()) ? (dir.empty() ? fs::path(".") : dir).string() : "";
}

int run_eval(const EvalOptions& o) {
  if (o.models.empty() == o.checkpoints.empty())
    throw usage_error("give either --model FILE (repeat it to ensemble several files) or --checkpoints DIR");
  if (o.ensemble < 0) throw usage_error("--ensemble must be >= 1");
  if (o.ensemble > 0 && o.checkpoints.empty())
    throw usage_error("--ensemble K takes the best K checkpoints of --checkpoints DIR; with --model, repeat --model instead");

  // Settings: the run's own (state.json) when there is one, then --config and flags.
  json base;
  std::string base_from;
  std::vector<std::string> files;
  std::vector<std::string> labels;
  if (!o.checkpoints.empty()) {
    CheckpointDir dir(o.checkpoints, 1);
    const RunState st = dir.load_state("--checkpoints");
    base = st.config;
    base_from = dir.state_path();
    if (st.best.empty()) throw model_error(dir.state_path() + ": no checkpoint yet (no epoch has completed)");
    const size_t k = static_cast<size_t>(o.ensemble > 0 ? o.ensemble : 1);
    if (k > st.best.size())
      std::fprintf(stderr, "note: %s keeps %zu checkpoints; ensembling all of them\n", dir.state_path().c_str(),
                   st.best.size());
    for (size_t i = 0; i < std::min(k, st.best.size()); ++i) {
      files.push_back(dir.path(st.best[i].file));
      char buf[96];
      std::snprintf(buf, sizeof buf, " (epoch %d, %s %.2f%%)", st.best[i].epoch, st.score_name.c_str(),
                    100.0 * st.best[i].score);
      labels.push_back(buf);
    }
  } else {
    files = o.models;
    labels.assign(files.size(), "");
    const std::string dir = state_beside(files.front());
    if (!dir.empty()) {
      CheckpointDir d(dir, 1);
      try {
        base = d.load_state().config;
        base_from = d.state_path();
      } catch (const CliError&) {
        base = nullptr;  // not a readable run folder: plain defaults
      }
    }
  }
  json canonical = resolve_settings(o.flags, base, eval_key_allowed);
  Settings s = decode_settings(canonical);

  std::vector<Model> models;
  for (const std::string& f : files) models.push_back(Model::load(f, s.model.device_type, s.model.device_index));
  if (!o.checkpoints.empty()) {
    // A run's checkpoints all hold the config its state.json names.
    const maml_config expected = decode_settings(base).model;
    for (size_t i = 0; i < models.size(); ++i) check_model_matches_state(models[i], files[i], expected, base_from);
  }
  const maml_config mc = models.front().config();
  for (size_t i = 1; i < models.size(); ++i) {
    const maml_config c = models[i].config();
    if (c.n_way != mc.n_way || c.image_channels != mc.image_channels || c.image_height != mc.image_height ||
        c.image_width != mc.image_width)
      throw model_error(files[i] + ": its task shape (" + std::to_string(c.n_way) + "-way, " +
                        std::to_string(c.image_channels) + "x" + std::to_string(c.image_height) + "x" +
                        std::to_string(c.image_width) + ") differs from " + files[0] + "'s; ensemble models of one run");
  }
  const int32_t device_type = s.model.device_type, device_index = s.model.device_index;
  s.model = mc;
  s.model.device_type = device_type;
  s.model.device_index = device_index;
  check_settings(s, o.flags.config_path.empty() ? (base_from.empty() ? "command line" : base_from) : o.flags.config_path);

  const SplitName which = o.on == "train" ? SplitName::Train : o.on == "val" ? SplitName::Val : SplitName::Test;
  DataSource data(s);
  const data::EpisodeSampler sampler = data.sampler(which, s.eval_batch(), s.val_seed, false);
  const int64_t total = s.test_tasks;

  std::vector<const Model*> ptrs;
  for (const Model& m : models) ptrs.push_back(&m);
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const TaskScores scores = evaluate_tasks(ptrs, sampler, total, s.eval_batch(), [&](int64_t done) {
    if (tty) std::fprintf(stderr, "\r\033[Kevaluating: %" PRId64 "/%" PRId64 " tasks", done, total);
  });
  if (tty) std::fprintf(stderr, "\r\033[K");
  const Summary acc = summarize(scores.accuracy);
  const Summary loss = summarize(scores.loss);

  if (!base_from.empty()) std::printf("settings   from %s\n", base_from.c_str());
  for (size_t i = 0; i < files.size(); ++i)
    std::printf("%s %s (step %" PRId64 ")%s\n", i == 0 ? (files.size() > 1 ? "ensemble  " : "model     ") : "          ",
                files[i].c_str(), models[i].step(), labels[i].c_str());
  const bool regression = sampler.regression();
  if (regression) {
    // Regression: the query mean squared error after adaptation, with its 95% CI over tasks.
    std::printf("data       %s, stream %s\n", data.description().c_str(), split_name(which));
    std::printf("tasks      %" PRId64 " tasks, %d-shot, %d query points each (seed %" PRIu64 ")\n", total, s.k_shot,
                s.q_query, s.val_seed);
    std::printf("mse        %.4f +- %.4f (95%% CI = 1.96 * std / sqrt(%" PRId64 "); std %.4f)%s\n", loss.mean,
                loss.ci95, loss.n, loss.std, files.size() > 1 ? " of the averaged predictions" : "");
  } else {
    std::printf("data       %s, split %s: %d classes\n", data.description().c_str(), split_name(which),
                sampler.split().size());
    std::printf("tasks      %" PRId64 " tasks of %d-way %d-shot, %d queries per class (seed %" PRIu64 ")\n", total,
                mc.n_way, s.k_shot, s.q_query, s.val_seed);
    std::printf("accuracy   %.2f%% +- %.2f%% (95%% CI = 1.96 * std / sqrt(%" PRId64 "); std %.2f%%)\n", 100.0 * acc.mean,
                100.0 * acc.ci95, acc.n, 100.0 * acc.std);
    std::printf("loss       %.4f (mean query cross-entropy%s)\n", loss.mean,
                files.size() > 1 ? " of the averaged logits" : "");
  }
  std::printf("time       %.1f s (%.1f tasks/s) on %s\n", scores.seconds,
              scores.seconds > 0 ? static_cast<double>(total) / scores.seconds : 0.0, models.front().device_name().c_str());

  if (!o.json_out.empty()) {
    json j = {{"models", files},
              {"split", split_name(which)},
              {"tasks", total},
              {"n_way", mc.n_way},
              {"k_shot", s.k_shot},
              {"q_query", s.q_query},
              {"seed", s.val_seed},
              {"task_kind", regression ? "regression" : "classification"},
              {"accuracy", regression ? json() : json(acc.mean)},
              {"accuracy_std", regression ? json() : json(acc.std)},
              {"accuracy_ci95", regression ? json() : json(acc.ci95)},
              {"loss", loss.mean},
              {"loss_std", loss.std},
              {"loss_ci95", loss.ci95},
              {"seconds", scores.seconds},
              {"per_task_accuracy", regression ? json() : json(scores.accuracy)},
              {"per_task_loss", scores.loss}};
    write_json_file(o.json_out, j);
  }
  return kExitOk;
}

}  // namespace

Command add_eval_command(CLI::App& root) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* app = root.add_subcommand("eval", "Accuracy on fixed test tasks with a 95% confidence interval");
  app->add_option("--model,-m", o->models, "model file (.maml); repeat to average the logits of several")
      ->type_name("FILE");
  app->add_option("--checkpoints", o->checkpoints, "a 'mamlpp train' output folder: use its best checkpoint")
      ->type_name("DIR");
  app->add_option("--ensemble", o->ensemble,
                  "average the logits of the best K checkpoints of --checkpoints (the MAML++ reference uses 5)")
      ->type_name("K");
  app->add_option("--on", o->on, "which split's classes the tasks come from")
      ->check(CLI::IsMember({"test", "val", "train"}));
  add_key_flag(app, o->flags, "test_tasks", "--tasks");
  add_config_option(app, o->flags);
  add_key_flags(app, o->flags,
                {"dataset", "data_dir", "archives", "split", "split_dir", "k_shot", "q_query", "val_seed",
                 "eval_batch_size"});
  add_key_flag(app, o->flags, "device_type", "--device");
  add_set_option(app, o->flags);
  app->add_option("--json", o->json_out, "also write the figures (and per-task accuracies) to this JSON file")
      ->type_name("FILE");
  app->footer(
      "Data settings default to the run's state.json (beside --model, or in --checkpoints).\n"
      "Examples:\n"
      "  mamlpp eval --model runs/omni/latest.maml\n"
      "  mamlpp eval --checkpoints runs/omni --ensemble 5 --tasks 600");
  return {app, [o] { return run_eval(*o); }};
}

}  // namespace mamlpp::cli
