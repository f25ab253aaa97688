// mamlpp inspect: what a model file holds and what the model learned about its own learning:
// the config, the learned per-layer per-step inner learning rates (a table and an SVG chart),
// and a summary of the per-step batch-norm parameters and statistics.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "cli/config_table.hpp"
#include "cli/model.hpp"
#include "cli/settings.hpp"
#include "cli/stats.hpp"
#include "cli/svg_chart.hpp"
#include "io/file.hpp"
#include "io/model_file.hpp"

namespace mamlpp::cli {
namespace {

using json = nlohmann::json;

struct InspectOptions {
  std::string model;
  std::string svg;
  std::string json_out;
};

std::vector<double> as_doubles(const io::NamedArray& a) {
  std::vector<double> v;
  if (a.dtype == io::TensorDtype::F32) {
    v.resize(a.bytes.size() / 4);
    for (size_t i = 0; i < v.size(); ++i) {
      float f;
      std::memcpy(&f, a.bytes.data() + 4 * i, 4);
      v[i] = f;
    }
  } else {
    v.resize(a.bytes.size() / 8);
    for (size_t i = 0; i < v.size(); ++i) std::memcpy(&v[i], a.bytes.data() + 8 * i, 8);
  }
  return v;
}

std::string short_name(const std::string& n) {
  return n.rfind("backbone.", 0) == 0 ? n.substr(9) : n;
}

struct BnRow {
  int32_t stage = 0, row = 0;
  Summary gamma, beta, mean, var;
};

// Everything inspect shows, from one read of the file: src/io for what the ABI does not expose
// (metadata, BN tensors), the C ABI on the same bytes for the config as the library sees it and
// the LSLR table.
struct Inspected {
  std::string path;
  std::size_t bytes = 0;
  io::ModelFile file;
  Model model;
  maml_config config{};
  int64_t step = 0, parameters = 0;
  std::vector<std::string> names;  // LSLR rows (adapted tensors)
  int32_t steps = 0;
  std::vector<float> rates;  // [tensor][step]
  std::vector<BnRow> bn;
};

std::vector<BnRow> bn_rows(const io::ModelFile& file, const maml_config& c) {
  std::vector<BnRow> bn;
  auto find = [&](const std::string& n) -> const io::NamedArray* {
    for (const auto& t : file.tensors)
      if (t.name == n) return &t;
    return nullptr;
  };
  const bool mlp = c.backbone == MAML_BACKBONE_MLP;
  for (int32_t st = 0; st < (mlp ? c.hidden_layers : c.num_stages); ++st) {
    const std::string p = (mlp ? "bn.layer" : "bn.stage") + std::to_string(st) + ".";
    const io::NamedArray *g = find(p + "gamma"), *b = find(p + "beta"), *m = find(p + "running_mean"),
                         *v = find(p + "running_var");
    if (!g || !b || !m || !v || g->shape.size() != 2) continue;
    const auto rows = static_cast<int32_t>(g->shape[0]);
    const auto F = static_cast<size_t>(g->shape[1]);
    const std::vector<double> gv = as_doubles(*g), bv = as_doubles(*b), mv = as_doubles(*m), vv = as_doubles(*v);
    for (int32_t r = 0; r < rows; ++r) {
      auto slice = [&](const std::vector<double>& x) {
        return summarize(std::vector<double>(x.begin() + static_cast<std::ptrdiff_t>(r * F),
                                             x.begin() + static_cast<std::ptrdiff_t>((r + 1) * F)));
      };
      bn.push_back({st, r, slice(gv), slice(bv), slice(mv), slice(vv)});
    }
  }
  return bn;
}

// "5-way, 1x28x28 images, 4 stages x 64 filters, max-pool" or "regression (1 output), MLP 1 -> 40
// -> 40 -> head, relu, no batch norm": what the model reads, its body and what it predicts.
std::string describe_model(const maml_config& c) {
  const std::string task = c.task_kind == MAML_TASK_REGRESSION
                               ? "regression (" + std::to_string(c.n_outputs) + " output" + (c.n_outputs == 1 ? ")" : "s)")
                               : std::to_string(c.n_way) + "-way";
  const std::string act = c.activation == MAML_ACTIVATION_RELU ? "relu" : "leaky relu";
  const std::string bn = c.batch_norm ? "" : ", no batch norm";
  if (c.backbone == MAML_BACKBONE_MLP) {
    std::string body = "MLP " + std::to_string(c.input_features);
    for (int32_t l = 0; l < c.hidden_layers; ++l) body += " -> " + std::to_string(c.hidden_sizes[l]);
    return task + ", " + body + " -> head, " + act + bn;
  }
  return task + ", " + std::to_string(c.image_channels) + "x" + std::to_string(c.image_height) + "x" +
         std::to_string(c.image_width) + " images, " + std::to_string(c.num_stages) + " stages x " +
         std::to_string(c.num_filters) + " filters, " +
         (c.max_pool ? "max-pool" : "stride-2 convs + global average pool") +
         (c.activation == MAML_ACTIVATION_RELU ? ", relu" : "") + bn;
}

Inspected inspect_file(const std::string& path) {
  Inspected in;
  in.path = path;
  const std::vector<uint8_t> bytes = with_model_errors("", [&] { return io::read_model_file(path); });
  in.bytes = bytes.size();
  in.file = with_model_errors(path, [&] { return io::decode_model_file(bytes.data(), bytes.size()); });
  in.model = Model::load_buffer(bytes, path, MAML_DEVICE_CPU);
  in.config = in.model.config();
  in.step = in.model.step();
  in.parameters = in.model.num_parameters();
  in.model.inner_lrs(in.names, in.steps, in.rates);
  in.bn = bn_rows(in.file, in.config);
  return in;
}

void print_summary(const Inspected& in) {
  const maml_config& c = in.config;
  std::printf("file         %s (%.1f KiB), format %s, written by libmamlpp %s\n", in.path.c_str(),
              static_cast<double>(in.bytes) / 1024.0, in.file.format_version.c_str(), in.file.library_version.c_str());
  std::printf("model        %s; %" PRId64 " parameters\n", describe_model(c).c_str(), in.parameters);
  std::printf("trained      %" PRId64 " meta-train steps (epoch %.2f of %d x %d); optimizer state %s\n", in.step,
              static_cast<double>(in.step) / std::max(1, c.iters_per_epoch), c.epochs, c.iters_per_epoch,
              in.file.has_optimizer ? "included (resumable)" : "not included (inference only)");
  const std::string adapts = c.adapt_last_layers == 0 ? "every layer"
                             : c.adapt_last_layers == 1 ? "the head only (ANIL)"
                                                        : "the last " + std::to_string(c.adapt_last_layers) + " layers";
  std::printf("inner loop   %d steps in training, %d in adapt/eval, adapting %s; inner_lr %g, LSLR %s; per-step BN %s; "
              "bn_stats %s\n",
              c.inner_steps, c.eval_inner_steps, adapts.c_str(), static_cast<double>(c.inner_lr),
              c.learn_inner_lr ? "on" : "off", c.per_step_bn ? "on" : "off", enum_name("bn_stats", c.bn_stats).c_str());
  std::printf("outer loop   MSL %s (%d epochs); %s; Adam meta_lr %g -> %g, betas (%g, %g); grad_clip %s\n",
              c.multi_step_loss ? "on" : "off", c.msl_epochs,
              !c.second_order ? "first order"
              : c.first_order_epochs > 0 ? ("second order after " + std::to_string(c.first_order_epochs) + " first-order epochs").c_str()
                                         : "second order",
              static_cast<double>(c.meta_lr), static_cast<double>(c.meta_lr_min), static_cast<double>(c.adam_beta1),
              static_cast<double>(c.adam_beta2), c.grad_clip > 0 ? std::to_string(c.grad_clip).c_str() : "off");
  std::printf("execution    device %s (saved config: %s), task_batching %s, num_threads %d, dtype %s, seed %" PRIu64 "\n",
              in.model.device_name().c_str(), enum_name("device_type", c.device_type).c_str(),
              enum_name("task_batching", c.task_batching).c_str(),
              c.num_threads, enum_name("dtype", c.dtype).c_str(), c.seed);
}

double rate(const Inspected& in, size_t r, int32_t s) {
  return in.rates[r * static_cast<size_t>(in.steps) + static_cast<size_t>(s)];
}

// The LSLR table, its extremes, and the rates that never moved.
void print_lslr(const Inspected& in) {
  const maml_config& c = in.config;
  std::printf("\nLearned inner learning rates (LSLR)%s, initial value %g:\n",
              c.learn_inner_lr ? "" : " - fixed, LSLR was off", static_cast<double>(c.inner_lr));
  size_t w = 6;
  for (const auto& n : in.names) w = std::max(w, short_name(n).size());
  std::printf("%-*s", static_cast<int>(w + 2), "tensor");
  for (int32_t s = 0; s < in.steps; ++s) std::printf("  step %-4d", s);
  std::printf("  %-9s\n", "mean");
  double lo = INFINITY, hi = -INFINITY;
  size_t lo_r = 0, hi_r = 0;
  int32_t lo_s = 0, hi_s = 0, negatives = 0;
  for (size_t r = 0; r < in.names.size(); ++r) {
    std::printf("%-*s", static_cast<int>(w + 2), short_name(in.names[r]).c_str());
    double sum = 0;
    for (int32_t s = 0; s < in.steps; ++s) {
      const double v = rate(in, r, s);
      std::printf("  %-9.4g", v);
      sum += v;
      if (v < lo) { lo = v; lo_r = r; lo_s = s; }
      if (v > hi) { hi = v; hi_r = r; hi_s = s; }
      negatives += v < 0 ? 1 : 0;
    }
    std::printf("  %-9.4g\n", in.steps ? sum / in.steps : 0.0);
  }
  if (!in.names.empty())
    std::printf("largest %.4g (%s, step %d); smallest %.4g (%s, step %d); %d negative rate(s)\n", hi,
                short_name(in.names[hi_r]).c_str(), hi_s, lo, short_name(in.names[lo_r]).c_str(), lo_s, negatives);
  if (!c.learn_inner_lr || in.step == 0) return;
  std::string unchanged;
  bool all_conv_bias = true;
  for (size_t r = 0; r < in.names.size(); ++r) {
    bool same = true;
    for (int32_t s = 0; s < in.steps; ++s)
      same = same && std::fabs(rate(in, r, s) - c.inner_lr) <= 1e-4f * std::max(1e-3f, std::fabs(c.inner_lr));
    if (!same) continue;
    unchanged += (unchanged.empty() ? "" : ", ") + short_name(in.names[r]);
    all_conv_bias = all_conv_bias && in.names[r].find("conv.bias") != std::string::npos;
  }
  if (!unchanged.empty())
    std::printf("(practically) never moved from the initial value: %s%s\n", unchanged.c_str(),
                all_conv_bias ? " (a conv bias right before batch norm gets no gradient: the normalisation "
                                "subtracts it again)"
                              : "");
}

// Why the running statistics may sit at their initial 0 and 1: only bn_stats = running uses them,
// and only then does meta-training update them.
std::string running_stats_note(const maml_config& c, int64_t step) {
  if (c.bn_stats != MAML_BN_RUNNING)
    return "running_mean/running_var are not used with bn_stats " + enum_name("bn_stats", c.bn_stats) +
           " (" + (c.bn_stats == MAML_BN_SUPPORT ? "predictions use the support set's statistics" :
                   "predictions use the statistics of the batch being classified") +
           "), so meta-training leaves them at their initial 0 and 1; only bn_stats running updates and uses them";
  if (step == 0) return "running statistics: still at their initial 0 and 1 (no meta-train step yet)";
  return "running statistics: updated by meta-training and used for queries and predictions (bn_stats running)";
}

void print_bn(const Inspected& in) {
  if (!in.config.batch_norm) {
    std::printf("\nBatch norm: none (batch_norm off)\n");
    return;
  }
  if (in.config.backbone == MAML_BACKBONE_MLP)
    std::printf("\nBatch norm per hidden layer and %s (mean +- std over the layer's units):\n",
                in.config.per_step_bn ? "inner step (per-step rows)" : "shared row");
  else
    std::printf("\nBatch norm per stage and %s (mean +- std over the %d channels):\n",
                in.config.per_step_bn ? "inner step (per-step rows)" : "shared row", in.config.num_filters);
  std::printf("stage  row   gamma               beta                running_mean  running_var\n");
  for (const BnRow& r : in.bn)
    std::printf("%-5d  %-4d  %7.4f +- %-7.4f  %7.4f +- %-7.4f  %-12.4f  %-11.4f\n", r.stage, r.row, r.gamma.mean,
                r.gamma.std, r.beta.mean, r.beta.std, r.mean.mean, r.var.mean);
  std::printf("(%s)\n", running_stats_note(in.config, in.step).c_str());
}

// The user metadata (maml_list_metadata): long values cut for the terminal; --json has them whole.
void print_metadata(const Inspected& in) {
  const auto& md = in.file.user_metadata;
  if (md.empty()) {
    std::printf("\nMetadata: none (no preprocessing recorded: 'mamlpp predict' will warn and use defaults)\n");
    return;
  }
  std::printf("\nMetadata (%zu entr%s):\n", md.size(), md.size() == 1 ? "y" : "ies");
  size_t w = 0;
  for (const auto& [k, v] : md) w = std::max(w, k.size());
  for (const auto& [k, v] : md) {
    std::string shown = v;
    for (char& ch : shown)
      if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
    if (shown.size() > 100) shown = shown.substr(0, 97) + "... (" + std::to_string(v.size()) + " bytes)";
    std::printf("  %-*s  %s\n", static_cast<int>(w), k.c_str(), shown.c_str());
  }
}

void write_svg(const Inspected& in, const std::string& out) {
  const maml_config& c = in.config;
  LslrChart chart;
  chart.title = "What the model learned about its own learning rates";
  char sub[512];
  std::snprintf(sub, sizeof sub, "%s - %s, step %" PRId64 ", LSLR %s, initial inner_lr %g", in.path.c_str(),
                describe_model(c).c_str(), in.step, c.learn_inner_lr ? "on" : "off",
                static_cast<double>(c.inner_lr));
  chart.subtitle = sub;
  chart.names = in.names;
  chart.steps = in.steps;
  chart.rates = in.rates;
  chart.initial = c.inner_lr;
  const std::string svg = lslr_svg(chart);
  with_model_errors("", [&] { io::atomic_write_file(out, reinterpret_cast<const uint8_t*>(svg.data()), svg.size()); });
  std::printf("\nwrote %s (line chart and heatmap of the inner learning rates)\n", out.c_str());
}

void write_json(const Inspected& in, const std::string& out) {
  json lslr = json::array();
  for (size_t r = 0; r < in.names.size(); ++r)
    lslr.push_back({{"tensor", in.names[r]},
                    {"rates", std::vector<float>(in.rates.begin() + static_cast<std::ptrdiff_t>(r * in.steps),
                                                 in.rates.begin() + static_cast<std::ptrdiff_t>((r + 1) * in.steps))}});
  json bnj = json::array();
  for (const BnRow& r : in.bn)
    bnj.push_back({{"stage", r.stage}, {"row", r.row}, {"gamma_mean", r.gamma.mean}, {"gamma_std", r.gamma.std},
                   {"beta_mean", r.beta.mean}, {"beta_std", r.beta.std}, {"running_mean_mean", r.mean.mean},
                   {"running_var_mean", r.var.mean}});
  json j = {{"file", in.path},
            {"bytes", in.bytes},
            {"format_version", in.file.format_version},
            {"library_version", in.file.library_version},
            {"step", in.step},
            {"has_optimizer", in.file.has_optimizer},
            {"parameters", in.parameters},
            {"inner_lrs", lslr},
            {"batch_norm", bnj},
            {"running_stats_note", running_stats_note(in.config, in.step)},
            {"metadata", in.file.user_metadata}};
  j["config"] = config_to_canonical(in.config);
  write_json_file(out, j);
}

int run_inspect(const InspectOptions& o) {
  const Inspected in = inspect_file(o.model);
  print_summary(in);
  print_lslr(in);
  print_bn(in);
  print_metadata(in);
  if (!o.svg.empty()) write_svg(in, o.svg);
  if (!o.json_out.empty()) write_json(in, o.json_out);
  return kExitOk;
}

}  // namespace

Command add_inspect_command(CLI::App& root) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* app = root.add_subcommand(
      "inspect", "Show a model file: config, learned inner learning rates (table + SVG chart), batch-norm summary, metadata");
  app->add_option("--model,-m", o->model, "model file (.maml)")->required()->type_name("FILE");
  app->add_option("--svg", o->svg, "write a line chart + heatmap of the learned inner learning rates")
      ->type_name("FILE");
  app->add_option("--json", o->json_out, "write everything shown as JSON")->type_name("FILE");
  app->footer("Example:\n  mamlpp inspect -m runs/omni/latest.maml --svg lslr.svg");
  return {app, [o] { return run_inspect(*o); }};
}

}  // namespace mamlpp::cli
