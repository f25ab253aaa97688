// mamlpp predict / mamlpp adapt: few-shot adaptation of a saved model to a person's own labelled
// images, then classification of query images.
//
// `adapt` adapts and reports how well the adapted model fits its support set (and how long the
// adaptation took); it writes nothing, because an adapted learner is cheap to recompute and the
// file format holds meta-initialisations, not learners. `predict` adapts the same way and then
// classifies each query image, printing the label and the softmax probabilities of every label.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "cli/checkpoints.hpp"
#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "cli/images.hpp"
#include "cli/model.hpp"
#include "cli/settings.hpp"
#include "cli/stats.hpp"
#include "common/error.hpp"
#include "data/csv_table.hpp"

namespace mamlpp::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct PredictOptions {
  std::string model;
  std::vector<std::string> support;
  std::string support_dir;
  std::vector<std::string> query;
  std::string device = "auto";
  std::string resize;  // "" = from the run, else bilinear|nearest
  bool invert = false;     // force inversion on
  bool no_invert = false;  // force it off
  std::vector<float> mean, std;
  bool json_lines = false;
  // Vector models: rows of a CSV file instead of images.
  std::string support_csv, query_csv;
  std::vector<std::string> label_columns;  // classification label or regression targets
  bool no_header = false;
  int32_t inner_steps = -1;  // -1: the model's eval_inner_steps
};

struct SupportSet {
  std::vector<std::string> labels;  // index -> name
  std::vector<std::string> files;
  std::vector<int32_t> y;
};

SupportSet read_support(const PredictOptions& o) {
  SupportSet s;
  std::map<std::string, int32_t> index;
  auto label_of = [&](const std::string& name) {
    auto it = index.find(name);
    if (it != index.end()) return it->second;
    const auto i = static_cast<int32_t>(s.labels.size());
    s.labels.push_back(name);
    index[name] = i;
    return i;
  };
  for (const std::string& item : o.support) {
    const auto colon = item.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size())
      throw usage_error("--support " + item + ": expected LABEL:IMAGE, e.g. --support cat:cat1.png");
    s.y.push_back(label_of(item.substr(0, colon)));
    s.files.push_back(item.substr(colon + 1));
  }
  if (!o.support_dir.empty()) {
    std::error_code ec;
    if (!fs::is_directory(o.support_dir, ec))
      throw data_error(o.support_dir + ": support folder not found; expected DIR/<label>/<images>");
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(o.support_dir, ec))
      if (e.is_directory() && e.path().filename().string()[0] != '.') dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const fs::path& d : dirs) {
      const std::vector<std::string> imgs = list_images(d.string());
      if (imgs.empty()) throw data_error(d.string() + ": no .png/.jpg image in this label folder");
      const int32_t label = label_of(d.filename().string());
      for (const std::string& f : imgs) {
        s.y.push_back(label);
        s.files.push_back(f);
      }
    }
    if (dirs.empty()) throw data_error(o.support_dir + ": no label folder inside; expected DIR/<label>/<images>");
  }
  if (s.files.empty()) throw usage_error("no support images: give --support LABEL:IMAGE ... or --support-dir DIR");
  return s;
}

// How the model's training images were preprocessed: from the model file's metadata
// ("mamlpp.preprocessing", written by `mamlpp train`), else from the run's state.json beside the
// model (files written before the metadata existed), then the flags. The file wins over a
// state.json: it travels with the model, while a state.json beside it may belong to another run.
// With neither, a warning: the defaults may not be what the model was trained on.
Preprocess preprocessing(const PredictOptions& o, const Model& model) {
  Preprocess p;
  p.source = "defaults (bilinear resize, no inversion, no normalisation)";
  bool known = false;
  if (const std::optional<std::string> meta = model.metadata(kPreprocessingKey)) {
    p = preprocess_from_metadata(*meta);
    known = true;
  } else {
    const fs::path dir = fs::path(o.model).parent_path();
    const std::string d = dir.empty() ? "." : dir.string();
    if (CheckpointDir::has_state(d)) {
      try {
        CheckpointDir cd(d, 1);
        const RunState st = cd.load_state();
        p = preprocess_from_settings(st.config);
        p.source = cd.state_path() + " (" + p.source + ")";
        known = true;
      } catch (const std::exception&) {
        // An unreadable state.json only costs the defaults (and the warning below).
      }
    }
  }
  const bool all_flags = !o.resize.empty() && (o.invert || o.no_invert);
  if (!known && !all_flags)
    std::fprintf(stderr,
                 "warning: %s carries no preprocessing (metadata \"%s\") and no state.json is beside it: "
                 "using %s; if the model was trained otherwise (Omniglot: --resize nearest --invert), say so "
                 "with --resize, --invert/--no-invert, --mean/--std\n",
                 o.model.c_str(), kPreprocessingKey, p.source.c_str());
  if (!o.resize.empty()) p.filter = o.resize == "nearest" ? data::ResizeFilter::Nearest : data::ResizeFilter::Bilinear;
  if (o.invert) p.invert = true;
  if (o.no_invert) p.invert = false;
  if (!o.mean.empty() || !o.std.empty()) {
    p.mean = o.mean;
    p.std = o.std;
  }
  if (!o.resize.empty() || o.invert || o.no_invert || !o.mean.empty() || !o.std.empty()) p.source += ", with flags";
  return p;
}

int32_t device_of(const std::string& d) {
  return d == "cpu" ? MAML_DEVICE_CPU : d == "cuda" ? MAML_DEVICE_CUDA : MAML_DEVICE_AUTO;
}

std::string pct(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * p);
  return buf;
}

// The rows of a CSV classification table, class by class, labelled by their class's index in
// `labels` (the support set's names); a class the support set lacks is refused.
void append_rows(const data::ImageDataset& d, const std::vector<std::string>& labels, const std::string& file,
                 std::vector<float>& x, std::vector<int32_t>& y) {
  const auto D = static_cast<size_t>(d.shape().numel());
  for (int32_t c = 0; c < d.num_classes(); ++c) {
    const auto it = std::find(labels.begin(), labels.end(), d.class_name(c));
    if (it == labels.end())
      throw data_error(file + ": label '" + d.class_name(c) + "' is not one of the support set's labels");
    for (int32_t i = 0; i < d.num_images(c); ++i) {
      x.insert(x.end(), d.image(c, i), d.image(c, i) + D);
      y.push_back(static_cast<int32_t>(it - labels.begin()));
    }
  }
}

double mean_squared_error(const std::vector<float>& a, const std::vector<float>& b) {
  double se = 0;
  for (size_t i = 0; i < a.size(); ++i) se += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
  return a.empty() ? 0.0 : se / static_cast<double>(a.size());
}

// `predict`/`adapt` on rows of CSV files (vector models): the support rows carry a label
// (classification) or targets (regression) in --label-column (default: the last column); query rows
// are features alone, or laid out as the support rows, and then the fit on them is reported too.
int run_csv(const PredictOptions& o, const Model& model, bool predict_queries) {
  const maml_config mc = model.config();
  const bool regression = mc.task_kind == MAML_TASK_REGRESSION;
  if (mc.backbone != MAML_BACKBONE_MLP)
    throw usage_error(o.model + " is a convolutional model over " + std::to_string(mc.image_channels) + "x" +
                      std::to_string(mc.image_height) + "x" + std::to_string(mc.image_width) +
                      " images: give it images (--support/--query), not CSV rows");
  if (!o.support.empty() || !o.support_dir.empty() || !o.query.empty())
    throw usage_error("give the support set and the queries either as CSV files (--support-csv, --query-csv) or as images, not both");
  if (predict_queries && o.query_csv.empty()) throw usage_error("no query rows: give --query-csv FILE");
  if (!regression && o.label_columns.size() > 1)
    throw usage_error("a classifier's support rows have one label column; --label-column was given " +
                      std::to_string(o.label_columns.size()) + " times");
  const int32_t D = mc.input_features, M = regression ? mc.n_outputs : 1;
  data::CsvOptions opt;
  opt.has_header = !o.no_header;
  auto csv = [&](const std::string& what, auto&& fn) {
    try {
      return fn();
    } catch (const Error& e) {
      throw data_error(what + ": " + e.what());
    }
  };
  // Support rows: features, labels or targets.
  std::vector<float> sx, st;
  std::vector<int32_t> sy;
  std::vector<std::string> label_names;
  int32_t columns = 0;
  if (regression) {
    opt.target_columns = o.label_columns;
    const data::RegressionTable t = csv("--support-csv", [&] { return data::load_csv_regression(o.support_csv, opt); });
    if (t.features != D || t.outputs != M)
      throw data_error(o.support_csv + ": rows of " + std::to_string(t.features) + " features and " +
                       std::to_string(t.outputs) + " target(s), but " + o.model + " reads " + std::to_string(D) +
                       " features and predicts " + std::to_string(M) + " output(s)" +
                       (t.outputs != M ? "; name its target columns with --label-column" : ""));
    sx = t.x;
    st = t.t;
    columns = t.features + t.outputs;
  } else {
    if (!o.label_columns.empty()) opt.label_column = o.label_columns.front();
    const data::ImageDataset d = csv("--support-csv", [&] { return data::load_csv_classification(o.support_csv, opt); });
    if (d.shape().numel() != D)
      throw data_error(o.support_csv + ": rows of " + std::to_string(d.shape().numel()) + " features, but " + o.model +
                       " reads " + std::to_string(D));
    if (d.num_classes() != mc.n_way)
      throw usage_error(o.model + " is a " + std::to_string(mc.n_way) + "-way model but " + o.support_csv + " has " +
                        std::to_string(d.num_classes()) + " label(s); give exactly " + std::to_string(mc.n_way));
    for (int32_t c = 0; c < d.num_classes(); ++c) label_names.push_back(d.class_name(c));
    append_rows(d, label_names, o.support_csv, sx, sy);
    columns = D + 1;
  }
  const auto n_support = static_cast<int32_t>(sx.size() / static_cast<size_t>(D));
  const auto t0 = std::chrono::steady_clock::now();
  const LearnerPtr learner = regression ? model.adapt_regression(sx.data(), st.data(), n_support)
                                        : model.adapt(sx.data(), sy.data(), n_support);
  const double adapt_ms = 1000.0 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int32_t width = regression ? M : mc.n_way;
  std::vector<float> out;
  if (!predict_queries) {
    predict(learner.get(), sx.data(), n_support, width, out);
    std::printf("model        %s (%s, %d input features, %d adaptation steps)\n", o.model.c_str(),
                regression ? "regression" : (std::to_string(mc.n_way) + "-way").c_str(), D, mc.eval_inner_steps);
    std::printf("adapted      to %d support rows in %.1f ms on %s\n", n_support, adapt_ms, model.device_name().c_str());
    if (regression) {
      std::printf("support fit  mse %.6g after adaptation\n", mean_squared_error(out, st));
    } else {
      int64_t correct = 0;
      for (int32_t i = 0; i < n_support; ++i) correct += argmax(out.data() + i * width, width) == sy[i] ? 1 : 0;
      std::printf("support fit  %lld/%d correct after adaptation\n", static_cast<long long>(correct), n_support);
    }
    return kExitOk;
  }
  // Query rows: D features, or the support file's layout (then its labels or targets score the fit).
  const int32_t query_columns = csv("--query-csv", [&] { return data::csv_column_count(o.query_csv); });
  std::vector<float> qx, qt;
  std::vector<int32_t> qy;
  if (query_columns == D) {
    qx = csv("--query-csv", [&] { return data::load_csv_numbers(o.query_csv, !o.no_header); }).values;
  } else if (query_columns == columns) {
    if (regression) {
      const data::RegressionTable t = csv("--query-csv", [&] { return data::load_csv_regression(o.query_csv, opt); });
      qx = t.x;
      qt = t.t;
    } else {
      const data::ImageDataset d = csv("--query-csv", [&] { return data::load_csv_classification(o.query_csv, opt); });
      append_rows(d, label_names, o.query_csv, qx, qy);
    }
  } else {
    throw data_error(o.query_csv + ": rows of " + std::to_string(query_columns) + " columns; " + o.model + " reads " +
                     std::to_string(D) + " features (give those alone, or the support file's " +
                     std::to_string(columns) + " columns)");
  }
  const auto n = static_cast<int32_t>(qx.size() / static_cast<size_t>(D));
  predict(learner.get(), qx.data(), n, width, out);
  if (!o.json_lines)
    std::printf("# %s: adapted to %d support rows in %.1f ms (%d steps); %d query rows\n", o.model.c_str(), n_support,
                adapt_ms, mc.eval_inner_steps, n);
  int64_t correct = 0;
  std::vector<double> probs(static_cast<size_t>(width));
  for (int32_t i = 0; i < n; ++i) {
    const float* row = out.data() + static_cast<size_t>(i) * width;
    json line = json::object();
    line["row"] = i;
    if (regression) {
      line["values"] = std::vector<float>(row, row + width);
    } else {
      softmax(row, width, probs.data());
      const int32_t best = argmax(row, width);
      line["label"] = label_names[static_cast<size_t>(best)];
      json p = json::object();
      for (int32_t k = 0; k < width; ++k) p[label_names[static_cast<size_t>(k)]] = probs[static_cast<size_t>(k)];
      line["probabilities"] = p;
      if (!qy.empty()) correct += best == qy[static_cast<size_t>(i)] ? 1 : 0;
    }
    if (o.json_lines) {
      std::printf("%s\n", line.dump().c_str());
    } else if (regression) {
      std::printf("%d ->", i);
      for (int32_t k = 0; k < width; ++k) std::printf(" %.6g", static_cast<double>(row[k]));
      std::printf("\n");
    } else {
      std::printf("%d -> %s (%s)\n", i, line["label"].get<std::string>().c_str(),
                  pct(probs[static_cast<size_t>(argmax(row, width))]).c_str());
    }
  }
  if (!o.json_lines && !qt.empty()) std::printf("# query mse %.6g\n", mean_squared_error(out, qt));
  if (!o.json_lines && !qy.empty())
    std::printf("# query accuracy %lld/%d\n", static_cast<long long>(correct), n);
  return kExitOk;
}

int run_adapt_or_predict(const PredictOptions& o, bool predict_queries) {
  Model model = Model::load(o.model, device_of(o.device));
  if (o.inner_steps >= 0) model = model.with_adaptation_steps(o.inner_steps, device_of(o.device));
  if (!o.support_csv.empty() || model.config().backbone == MAML_BACKBONE_MLP) {
    if (o.support_csv.empty())
      throw usage_error(o.model + " is an MLP over " + std::to_string(model.config().input_features) +
                        " features: give its support rows with --support-csv FILE (and queries with --query-csv), not images");
    return run_csv(o, model, predict_queries);
  }
  if (predict_queries && o.query.empty()) throw usage_error("no query images: give --query IMAGE ...");
  const SupportSet support = read_support(o);
  const maml_config mc = model.config();
  if (static_cast<int32_t>(support.labels.size()) != mc.n_way) {
    std::string names;
    for (size_t i = 0; i < support.labels.size(); ++i) names += (i ? ", " : "") + support.labels[i];
    throw usage_error(o.model + " is a " + std::to_string(mc.n_way) + "-way model but the support set has " +
                      std::to_string(support.labels.size()) + " label(s) (" + names + "); give exactly " +
                      std::to_string(mc.n_way) + " labels");
  }
  const Preprocess pre = preprocessing(o, model);
  if (!pre.mean.empty() && static_cast<int32_t>(pre.mean.size()) != mc.image_channels)
    throw usage_error("--mean/--std need one value per channel (" + std::to_string(mc.image_channels) + ")");
  if (pre.mean.size() != pre.std.size()) throw usage_error("--mean and --std need the same number of values");
  const data::ImageShape shape{mc.image_channels, mc.image_height, mc.image_width};

  std::vector<float> sx;
  for (const std::string& f : support.files) load_image(f, shape, pre, sx);
  const auto t0 = std::chrono::steady_clock::now();
  const LearnerPtr learner = model.adapt(sx.data(), support.y.data(), static_cast<int32_t>(support.files.size()));
  const double adapt_ms = 1000.0 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const int32_t n_way = mc.n_way;
  std::vector<float> logits;
  std::vector<double> probs(static_cast<size_t>(n_way));
  if (!predict_queries) {
    predict(learner.get(), sx.data(), static_cast<int32_t>(support.files.size()), n_way, logits);
    int64_t correct = 0;
    for (size_t i = 0; i < support.files.size(); ++i)
      correct += argmax(logits.data() + i * static_cast<size_t>(n_way), n_way) == support.y[i] ? 1 : 0;
    std::printf("model        %s (%d-way, %dx%dx%d, %d adaptation steps)\n", o.model.c_str(), n_way, mc.image_channels,
                mc.image_height, mc.image_width, mc.eval_inner_steps);
    std::printf("labels       ");
    for (int32_t i = 0; i < n_way; ++i) {
      int64_t count = 0;
      for (int32_t y : support.y) count += y == i ? 1 : 0;
      std::printf("%s%s (%lld)", i ? ", " : "", support.labels[static_cast<size_t>(i)].c_str(), static_cast<long long>(count));
    }
    std::printf("\npreprocess   %s\n", pre.source.c_str());
    std::printf("adapted      in %.1f ms on %s\n", adapt_ms, model.device_name().c_str());
    std::printf("support fit  %lld/%zu correct (%s) after adaptation\n", static_cast<long long>(correct),
                support.files.size(), pct(static_cast<double>(correct) / static_cast<double>(support.files.size())).c_str());
    std::printf("(adapt writes nothing: run 'mamlpp predict' with the same support set and --query images)\n");
    return kExitOk;
  }

  std::vector<float> qx;
  for (const std::string& f : o.query) load_image(f, shape, pre, qx);
  const auto t1 = std::chrono::steady_clock::now();
  predict(learner.get(), qx.data(), static_cast<int32_t>(o.query.size()), n_way, logits);
  const double predict_ms = 1000.0 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  if (!o.json_lines)
    std::printf("# %s: adapted to %zu support images of %d labels in %.1f ms, predicted %zu queries in %.1f ms\n",
                o.model.c_str(), support.files.size(), n_way, adapt_ms, o.query.size(), predict_ms);
  for (size_t i = 0; i < o.query.size(); ++i) {
    const float* l = logits.data() + i * static_cast<size_t>(n_way);
    softmax(l, n_way, probs.data());
    const int32_t best = argmax(l, n_way);
    if (o.json_lines) {
      json p = json::object();
      for (int32_t k = 0; k < n_way; ++k) p[support.labels[static_cast<size_t>(k)]] = probs[static_cast<size_t>(k)];
      json line = {{"file", o.query[i]}, {"label", support.labels[static_cast<size_t>(best)]}, {"probabilities", p}};
      std::printf("%s\n", line.dump().c_str());
      continue;
    }
    std::vector<int32_t> order(static_cast<size_t>(n_way));
    for (int32_t k = 0; k < n_way; ++k) order[static_cast<size_t>(k)] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t a, int32_t b) { return probs[static_cast<size_t>(a)] > probs[static_cast<size_t>(b)]; });
    std::printf("%s -> %s (%s)   [", o.query[i].c_str(), support.labels[static_cast<size_t>(best)].c_str(),
                pct(probs[static_cast<size_t>(best)]).c_str());
    for (size_t k = 0; k < order.size(); ++k)
      std::printf("%s%s %s", k ? ", " : "", support.labels[static_cast<size_t>(order[k])].c_str(),
                  pct(probs[static_cast<size_t>(order[k])]).c_str());
    std::printf("]\n");
  }
  return kExitOk;
}

void add_common(CLI::App* app, PredictOptions& o) {
  app->add_option("--model,-m", o.model, "model file (.maml)")->required()->type_name("FILE");
  app->add_option("--support,-s", o.support, "labelled support images: LABEL:IMAGE ... (PNG or JPEG)")
      ->type_name("LABEL:IMAGE");
  app->add_option("--support-dir", o.support_dir, "support images as DIR/<label>/<images>")->type_name("DIR");
  app->add_option("--device", o.device, "where to compute")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app->add_option("--resize", o.resize, "resize filter (default: as the model's training data)")
      ->check(CLI::IsMember({"bilinear", "nearest"}));
  app->add_flag("--invert", o.invert, "invert grey levels (v -> 1 - v); default: on for models trained on Omniglot");
  app->add_flag("--no-invert", o.no_invert, "do not invert grey levels")->excludes("--invert");
  app->add_option("--mean", o.mean, "per-channel mean to subtract after scaling to [0,1]")->type_name("X");
  app->add_option("--std", o.std, "per-channel std to divide by")->type_name("X");
  app->add_option("--support-csv", o.support_csv,
                  "vector models: support rows as CSV (features and a label or target column)")
      ->type_name("FILE");
  app->add_option("--label-column", o.label_columns,
                  "CSV: the label column (classifier) or target columns (regression, repeat for several); "
                  "a header name or 0-based index; default: the last column")
      ->type_name("NAME");
  app->add_flag("--no-header", o.no_header, "CSV files have no header row");
  app->add_option("--inner-steps", o.inner_steps,
                  "adaptation steps (default: the model's eval_inner_steps; 0 = the meta-model unadapted)")
      ->type_name("N");
}

}  // namespace

Command add_predict_command(CLI::App& root) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* app = root.add_subcommand("predict", "Adapt a model to labelled support images, then classify query images");
  add_common(app, *o);
  app->add_option("--query,-q", o->query, "images to classify")->type_name("IMAGE");
  app->add_option("--query-csv", o->query_csv,
                  "vector models: query rows as CSV (features alone, or laid out as --support-csv to score them)")
      ->type_name("FILE");
  app->add_flag("--json", o->json_lines, "one JSON object per query: file, label, probabilities");
  app->footer(
      "Preprocessing follows the model's training data: as the model file's metadata says (files written by\n"
      "'mamlpp train' carry it), else as its run's state.json beside it says; a warning when neither does.\n"
      "Example:\n"
      "  mamlpp predict -m run/latest.maml --support a:a1.png b:b1.png c:c1.png d:d1.png e:e1.png --query x.png y.png");
  return {app, [o] { return run_adapt_or_predict(*o, true); }};
}

Command add_adapt_command(CLI::App& root) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* app = root.add_subcommand(
      "adapt", "Adapt a model to labelled support images and report the fit and the time (writes nothing)");
  add_common(app, *o);
  app->footer(
      "Example:\n"
      "  mamlpp adapt -m run/latest.maml --support-dir my_support/");
  return {app, [o] { return run_adapt_or_predict(*o, false); }};
}

}  // namespace mamlpp::cli
