#include "cli/config_keys.hpp"

#include <mamlpp/mamlpp.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include "cli/config_table.hpp"
#include "cli/errors.hpp"
#include "cli/settings.hpp"
#include "common/error.hpp"
#include "io/strict_json.hpp"

namespace mamlpp::cli {
namespace {

using json = nlohmann::json;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<KeyDef> make_keys() {
  using K = KeyKind;
  using G = KeyGroup;
  // ---- the model: maml_config, field for field, from the one table ----
  std::vector<KeyDef> k;
  maml_config c{};
  visit_c_fields(c, [&](const FieldInfo& f, const auto& v) {
    using T = std::decay_t<decltype(v)>;
    KeyKind kind = std::is_same_v<T, float>      ? K::Float
                   : std::is_same_v<T, uint64_t> ? K::UInt64
                   : f.type == FieldType::Int32Array ? K::IntList
                                                     : K::Int;
    std::vector<std::string> choices;
    if (f.type == FieldType::Bool) kind = K::Bool;
    if (f.type == FieldType::Enum) {
      kind = K::Choice;
      for (int32_t i = 0; i < choice_count(f); ++i) choices.push_back(choice_name(f, i));
    }
    std::string doc = f.doc;
    if (std::string(f.name) == "seed") doc += "; also the training-task seed unless train_seed is set";
    k.emplace_back(f.name, kind, G::Model, doc, choices, f.type == FieldType::Enum);
  });
  std::vector<KeyDef> rest = {
      // ---- data ----
      {"dataset", K::Choice, G::Data,
       "synthetic (built in), omniglot (the two archives), folder (root/<class>/<image>), sinusoid (the MAML "
       "paper's regression tasks, built in) or csv (vector rows of a CSV file); sinusoid and csv need backbone=mlp",
       {"synthetic", "omniglot", "folder", "sinusoid", "csv"}},
      {"data_dir", K::String, G::Data,
       "omniglot: folder holding images_background.zip and images_evaluation.zip; folder: the image root; csv: the "
       "CSV file"},
      {"csv_label", K::String, G::Data,
       "csv, classification: the column naming each row's class (header name or 0-based index); default the last"},
      {"csv_targets", K::StringList, G::Data,
       "csv, regression: the target columns, n_outputs of them (names or 0-based indices); default the last column"},
      {"csv_task", K::String, G::Data,
       "csv, regression: the column grouping rows into tasks (rows of one task share its value); required"},
      {"csv_header", K::Bool, G::Data, "csv: the first row is a header of column names"},
      {"archives", K::StringList, G::Data, "omniglot: explicit archive paths (instead of data_dir)"},
      {"split", K::Choice, G::Data,
       "class split: auto (omniglot: reference; folder: pre_split when train/ and test/ exist, else seeded; synthetic: seeded), "
       "reference/seeded (seeded shuffle cut by split_fractions), vinyals (omniglot, files in split_dir), pre_split (folder)",
       {"auto", "reference", "seeded", "vinyals", "pre_split"}},
      {"split_dir", K::String, G::Data, "vinyals: folder with train.txt val.txt test.txt (default <data_dir>/splits/vinyals)"},
      {"split_fractions", K::FloatList, G::Data, "train and validation fractions of the classes (the rest is test)"},
      {"augment", K::OptBool, G::Data, "rotate each training class by a random multiple of 90 degrees; null = on for omniglot only"},
      {"resize", K::Choice, G::Data, "resize filter: auto (omniglot nearest, else bilinear), bilinear, nearest",
       {"auto", "bilinear", "nearest"}},
      {"mean", K::FloatList, G::Data, "folder: per-channel mean subtracted after scaling to [0,1] (ImageNet: [0.485,0.456,0.406])"},
      {"std", K::FloatList, G::Data, "folder: per-channel std divided by (ImageNet: [0.229,0.224,0.225])"},
      {"reference_pixels", K::Bool, G::Data, "omniglot: the reference's pixels (paper 1, ink 0) instead of ink 1, paper 0"},
      {"synthetic_classes", K::Int, G::Data, "synthetic: number of classes"},
      {"synthetic_images", K::Int, G::Data, "synthetic: images per class"},
      {"synthetic_seed", K::UInt64, G::Data, "synthetic: generator seed"},
      {"k_shot", K::Int, G::Data, "support examples per class (K)"},
      {"q_query", K::Int, G::Data, "query examples per class (Q)"},
      {"batch_size", K::Int, G::Data, "tasks per meta-batch (B)"},
      {"val_tasks", K::Int, G::Data, "fixed validation tasks evaluated after every epoch; 0 = none"},
      {"test_tasks", K::Int, G::Data, "test tasks for 'mamlpp eval'"},
      {"eval_batch_size", K::Int, G::Data, "tasks per evaluation call; 0 = batch_size"},
      {"train_seed", K::OptUInt64, G::Data, "seed of the training task stream; null = seed"},
      {"val_seed", K::UInt64, G::Data, "seed of the class split and of the validation/test tasks"},
      // ---- the run ----
      {"out", K::String, G::Run, "output folder: checkpoints, latest.maml, state.json"},
      {"metrics", K::String, G::Run, "metrics file, one row per epoch: .csv or .jsonl"},
      {"keep_best", K::Int, G::Run, "epoch checkpoints kept, best by validation accuracy (plus the latest)"},
      {"log_every", K::Int, G::Run, "progress line every N steps when stderr is not a terminal; 0 = auto"},
      {"workers", K::Int, G::Run, "threads preparing meta-batches in the background"},
      {"prefetch", K::Int, G::Run, "meta-batches prepared ahead"},
      {"dist_timeout", K::Float, G::Run,
       "under torchrun: seconds a rank waits for the others (rendezvous, every step) before failing"},
  };
  k.insert(k.end(), rest.begin(), rest.end());
  return k;
}

json map_dataset_name(const json& v) {
  if (!v.is_string()) return v;
  const std::string s = lower(v.get<std::string>());
  if (s.find("omniglot") != std::string::npos) return "omniglot";
  if (s.find("synthetic") != std::string::npos) return "synthetic";
  if (s == "sinusoid") return "sinusoid";
  if (s == "csv") return "csv";
  return "folder";
}

json map_first_order_epoch(const json& v) {
  // The reference uses second order when epoch > X: X + 1 first-order epochs (X = -1: none).
  if (v.is_number_integer()) return std::max<int64_t>(0, v.get<int64_t>() + 1);
  return v;
}

json map_pre_split(const json& v) {
  json b = v;
  if (v.is_string()) {
    const std::string s = lower(v.get<std::string>());
    if (s == "true") b = true;
    if (s == "false") b = false;
  }
  if (b.is_boolean()) return b.get<bool>() ? "pre_split" : "seeded";
  return v;
}

json identity(const json& v) { return v; }

std::vector<AliasDef> make_aliases() {
  return {
      {"num_classes_per_set", {"n_way"}, "", identity},
      {"num_samples_per_class", {"k_shot"}, "", identity},
      {"num_target_samples", {"q_query"}, "", identity},
      {"cnn_num_filters", {"num_filters"}, "", identity},
      {"number_of_training_steps_per_iter", {"inner_steps"}, "", identity},
      {"number_of_evaluation_steps_per_iter", {"eval_inner_steps"}, "", identity},
      {"task_learning_rate", {"inner_lr"}, "", identity},
      {"init_inner_loop_learning_rate", {"inner_lr"},
       "honoured here (the reference ignores it and always starts at 0.1)", identity},
      {"learnable_per_layer_per_step_inner_loop_learning_rate", {"learn_inner_lr"}, "", identity},
      {"per_step_bn_statistics", {"per_step_bn"}, "", identity},
      {"use_multi_step_loss_optimization", {"multi_step_loss"}, "", identity},
      {"multi_step_loss_num_epochs", {"msl_epochs"}, "", identity},
      {"first_order_to_second_order_epoch", {"first_order_epochs"},
       "X -> max(0, X + 1): the reference goes second order when epoch > X", map_first_order_epoch},
      {"meta_learning_rate", {"meta_lr"}, "", identity},
      {"min_learning_rate", {"meta_lr_min"}, "", identity},
      {"total_epochs", {"epochs"}, "", identity},
      {"total_iter_per_epoch", {"iters_per_epoch"}, "", identity},
      {"max_pooling", {"max_pool"}, "", identity},
      {"dataset_name", {"dataset"},
       "a name containing 'omniglot' -> omniglot, 'synthetic' -> synthetic, anything else -> folder",
       map_dataset_name},
      {"dataset_path", {"data_dir"}, "taken as a path (the reference prefixes $DATASET_DIR)", identity},
      {"num_evaluation_tasks", {"val_tasks", "test_tasks"},
       "sets both; an explicit val_tasks or test_tasks in the same source wins", identity, true},
      {"max_models_to_save", {"keep_best"}, "", identity},
      {"train_val_test_split", {"split_fractions"}, "the first two fractions are used; test is the rest",
       identity},
      {"sets_are_pre_split", {"split"}, "true -> pre_split, false -> seeded", map_pre_split},
      {"num_dataprovider_workers", {"workers"}, "threads preparing meta-batches", identity},
  };
}

std::vector<IgnoredDef> make_ignored() {
  const json any;  // null
  return {
      {"gpu_to_use", "use device_type / device_index (the reference also skips it in JSON)", any},
      {"num_of_gpus", "one device per process", any},
      {"experiment_name", "use --out", any},
      {"architecture_name", "one architecture: the VGG-style MAML++ backbone", any},
      {"continue_from_epoch", "use --resume OUT", any},
      {"total_epochs_before_pause", "runs do not pause; stop with Ctrl-C and --resume", any},
      {"reset_stored_paths", "no path cache", any},
      {"reset_stored_filepaths", "no path cache", any},
      {"load_into_memory", "datasets are always decoded into memory", any},
      {"indexes_of_folders_indicating_class", "the class folder layout is fixed (see docs/CLI.md)", any},
      {"total_unique_tasks", "tasks are drawn from an endless seeded stream", any},
      {"minimum_per_task_contribution", "unused by the reference too (MSL floor is 0.03 / S)", any},
      {"evaluate_on_test_set_only", "use 'mamlpp eval'", any},
      {"evalute_on_test_set_only", "use 'mamlpp eval'", any},
      {"use_gdrive", "no remote storage", any},
      {"labels_as_int", "labels are always integers", any},
      {"name_of_args_json_file", "use --config", any},
      {"hypernetwork_scale", "unused by MAML++", any},
      {"full_context_unroll_k", "unused by MAML++", any},
      {"use_full_context_embeddings", "unused by MAML++", any},
      {"grad_penalty", "unused by MAML++", any},
      {"meta_opt_bn", "BN gamma/beta are always meta-learned", any},
      {"cnn_num_blocks", "use num_stages", any},
      {"norm_layer", "batch norm is the only normalisation", "batch_norm"},
      {"cnn_blocks_per_stage", "one conv per stage", 1},
      {"conv_padding", "convs are always padded", true},
      {"learnable_batch_norm_momentum", "BN momentum is fixed at 0.1", false},
      {"enable_inner_loop_optimizable_bn_params", "BN parameters are not adapted in the inner loop", false},
      {"learnable_bn_gamma", "gamma is always meta-learned", true},
      {"learnable_bn_beta", "beta is always meta-learned", true},
      {"dropout_rate_value", "the backbone has no dropout", 0},
      {"weight_decay", "no weight decay", 0},
      {"samples_per_iter", "one meta-batch per step", 1},
      {"reverse_channels", "channels are read as RGB", false},
      {"load_from_npz_files", "datasets are read straight from the archives or image folders, never from .npz caches",
       any},
      {"train_in_stages", "training has one stage (unused by the reference's training loop too)", false},
      {"optimize_final_target_loss_only", "use multi_step_loss (false: only the last step's query loss)", false},
  };
}

std::string kind_text(KeyKind k) {
  switch (k) {
    case KeyKind::Int: return "integer";
    case KeyKind::UInt64: return "non-negative integer";
    case KeyKind::OptUInt64: return "non-negative integer or null";
    case KeyKind::Float: return "number";
    case KeyKind::Bool: return "boolean";
    case KeyKind::OptBool: return "boolean or null";
    case KeyKind::String: return "string";
    case KeyKind::Choice: return "string";
    case KeyKind::FloatList: return "list of numbers";
    case KeyKind::IntList: return "list of integers";
    case KeyKind::StringList: return "list of strings";
  }
  return "value";
}

std::string short_json(const json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// A value of the reference's JSON configs may be a "True"/"False" string for booleans.
bool as_bool(const json& v, bool& out) {
  if (v.is_boolean()) { out = v.get<bool>(); return true; }
  if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1)) {
    out = v.get<int64_t>() == 1;
    return true;
  }
  if (v.is_string()) {
    const std::string s = lower(v.get<std::string>());
    if (s == "true") { out = true; return true; }
    if (s == "false") { out = false; return true; }
  }
  return false;
}

// Checks `v` against `key` and returns the canonical value.
json normalise(const KeyDef& key, const json& v, const std::string& where, const std::string& given) {
  auto fail = [&](const std::string& expected) -> CliError {
    std::string name = given == key.name ? "'" + key.name + "'" : "'" + given + "' (" + key.name + ")";
    return usage_error(where + ": key " + name + " must be " + expected + ", got " + short_json(v));
  };
  switch (key.kind) {
    case KeyKind::Int: {
      if (v.is_number_integer()) {
        const int64_t x = v.get<int64_t>();
        if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())
          throw fail("a 32-bit integer");
        return x;
      }
      if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
          std::fabs(v.get<double>()) < 2e9)
        return static_cast<int64_t>(v.get<double>());
      throw fail("an integer");
    }
    case KeyKind::OptUInt64:
      if (v.is_null()) return v;
      [[fallthrough]];
    case KeyKind::UInt64:
      if (v.is_number_unsigned()) return v.get<uint64_t>();
      if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
      throw fail(kind_text(key.kind));
    case KeyKind::Float:
      if (v.is_number()) {
        const double x = v.get<double>();
        if (!std::isfinite(x)) throw fail("a finite number");
        return x;
      }
      throw fail("a number");
    case KeyKind::OptBool:
      if (v.is_null() || (v.is_string() && lower(v.get<std::string>()) == "auto")) return nullptr;
      [[fallthrough]];
    case KeyKind::Bool: {
      bool b = false;
      if (as_bool(v, b)) return b;
      throw fail(key.kind == KeyKind::Bool ? "true or false" : "true, false or null");
    }
    case KeyKind::String:
      if (v.is_string()) return v;
      throw fail("a string");
    case KeyKind::Choice: {
      std::string options;
      for (size_t i = 0; i < key.choices.size(); ++i)
        options += (i ? (i + 1 == key.choices.size() ? " or " : ", ") : "") + key.choices[i];
      if (v.is_string()) {
        const std::string s = lower(v.get<std::string>());
        for (const std::string& c : key.choices)
          if (c == s) return c;
      }
      if (key.int_enum && v.is_number_integer()) {
        const int64_t i = v.get<int64_t>();
        if (i >= 0 && i < static_cast<int64_t>(key.choices.size())) return key.choices[static_cast<size_t>(i)];
      }
      throw fail("one of " + options);
    }
    case KeyKind::FloatList: {
      json out = json::array();
      if (v.is_number()) {
        out.push_back(v.get<double>());
        return out;
      }
      if (!v.is_array()) throw fail("a list of numbers");
      for (const json& e : v) {
        if (!e.is_number() || !std::isfinite(e.get<double>())) throw fail("a list of numbers");
        out.push_back(e.get<double>());
      }
      return out;
    }
    case KeyKind::IntList: {
      // hidden_sizes: up to kMaxHiddenLayers entries; the library checks each against hidden_layers.
      json out = json::array();
      const json list = v.is_number() ? json::array({v}) : v;
      if (!list.is_array() || list.size() > static_cast<size_t>(kMaxHiddenLayers))
        throw fail("a list of at most " + std::to_string(kMaxHiddenLayers) + " integers");
      for (const json& e : list) {
        if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() > 65536)
          throw fail("a list of integers in [0, 65536]");
        out.push_back(e.get<int64_t>());
      }
      return out;
    }
    case KeyKind::StringList: {
      if (v.is_string()) return json::array({v});
      if (!v.is_array()) throw fail("a list of strings");
      for (const json& e : v)
        if (!e.is_string()) throw fail("a list of strings");
      return v;
    }
  }
  throw fail("valid");
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

bool same_value(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  bool x = false, y = false;
  if (b.is_boolean() && as_bool(a, x) && as_bool(b, y)) return x == y;
  if (a.is_string() && b.is_string()) return lower(a.get<std::string>()) == lower(b.get<std::string>());
  return a == b;
}

}  // namespace

const std::vector<KeyDef>& canonical_keys() {
  static const std::vector<KeyDef> keys = make_keys();
  return keys;
}
const std::vector<AliasDef>& reference_aliases() {
  static const std::vector<AliasDef> a = make_aliases();
  return a;
}
const std::vector<IgnoredDef>& ignored_keys() {
  static const std::vector<IgnoredDef> i = make_ignored();
  return i;
}

const KeyDef* find_key(const std::string& name) {
  for (const KeyDef& k : canonical_keys())
    if (k.name == name) return &k;
  return nullptr;
}

KeyKind kind_of_any_key(const std::string& name) {
  if (const KeyDef* k = find_key(name)) return k->kind;
  for (const AliasDef& a : reference_aliases())
    if (a.name == name) return find_key(a.targets.front())->kind;
  return KeyKind::String;
}


json default_settings() {
  maml_config c;
  maml_config_init(&c);
  json s = config_to_canonical(c);
  s["dataset"] = "synthetic";
  s["data_dir"] = "";
  s["csv_label"] = "";
  s["csv_targets"] = json::array();
  s["csv_task"] = "";
  s["csv_header"] = true;
  s["archives"] = json::array();
  s["split"] = "auto";
  s["split_dir"] = "";
  s["split_fractions"] = json::array({0.70918052988, 0.03080714725});
  s["augment"] = nullptr;
  s["resize"] = "auto";
  s["mean"] = json::array();
  s["std"] = json::array();
  s["reference_pixels"] = false;
  s["synthetic_classes"] = 1200;
  s["synthetic_images"] = 20;
  s["synthetic_seed"] = 0;
  s["k_shot"] = 1;
  s["q_query"] = 1;
  s["batch_size"] = 8;
  s["val_tasks"] = 100;
  s["test_tasks"] = 600;
  s["eval_batch_size"] = 0;
  s["train_seed"] = nullptr;
  s["val_seed"] = 0;

  s["out"] = "";
  s["metrics"] = "";
  s["keep_best"] = 5;
  s["log_every"] = 0;
  s["workers"] = 1;
  s["prefetch"] = 4;
  s["dist_timeout"] = 300.0;
  return s;
}

void apply_keys(const json& source, const std::string& where, json& settings,
                std::vector<std::string>* ignored, const std::function<bool(const KeyDef&)>& allowed) {
  if (!source.is_object())
    throw usage_error(where + ": the config must be a JSON object of key: value pairs");

  struct Assignment {
    std::string given;  // the key as written
    json value;         // canonical
    bool soft;
  };
  std::map<std::string, Assignment> assigned;  // canonical key -> what sets it

  auto assign = [&](const KeyDef& key, const std::string& given, const json& raw, bool soft) {
    if (allowed && !allowed(key))
      throw usage_error(where + ": key '" + given + "' cannot be changed when resuming a run (it is fixed by state.json); "
                        "start a new run with another --out to change it");
    const json value = normalise(key, raw, where, given);
    auto it = assigned.find(key.name);
    if (it != assigned.end()) {
      if (it->second.soft && !soft) {
        it->second = {given, value, soft};
      } else if (soft && !it->second.soft) {
        // an explicit key already won
      } else if (it->second.value != value) {
        throw usage_error(where + ": keys '" + it->second.given + "' and '" + given +
                          "' both set " + key.name + " but disagree (" + short_json(it->second.value) +
                          " vs " + short_json(value) + "); keep one");
      }
      return;
    }
    assigned[key.name] = {given, value, soft};
  };

  for (auto it = source.begin(); it != source.end(); ++it) {
    const std::string& name = it.key();
    const json& raw = it.value();
    if (const KeyDef* key = find_key(name)) {
      assign(*key, name, raw, false);
      continue;
    }
    bool done = false;
    for (const AliasDef& a : reference_aliases()) {
      if (a.name != name) continue;
      const json v = a.transform ? a.transform(raw) : raw;
      for (const std::string& t : a.targets) assign(*find_key(t), name, v, a.soft);
      done = true;
      break;
    }
    if (done) continue;
    for (const IgnoredDef& ig : ignored_keys()) {
      if (ig.name != name) continue;
      if (!ig.required.is_null() && !same_value(raw, ig.required))
        throw usage_error(where + ": key '" + name + "' = " + short_json(raw) + " is not supported (" +
                          ig.note + "); remove it or set it to " + ig.required.dump());
      if (ignored) ignored->push_back(name);
      done = true;
      break;
    }
    if (done) continue;
    const std::string near = closest_key(name);
    throw usage_error(where + ": unknown key '" + name + "'" +
                      (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                      "; 'mamlpp train --list-keys' lists the accepted keys");
  }
  for (auto& [name, a] : assigned) settings[name] = a.value;
}

std::string closest_key(const std::string& unknown) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  auto consider = [&](const std::string& k) {
    const size_t d = edit_distance(lower(unknown), k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  };
  for (const KeyDef& k : canonical_keys()) consider(k.name);
  for (const AliasDef& a : reference_aliases()) consider(a.name);
  for (const IgnoredDef& i : ignored_keys()) consider(i.name);
  const size_t limit = std::max<size_t>(2, unknown.size() / 3);
  // A key that merely contains the other (n_ways / n_way_count) is also worth suggesting.
  if (best_d <= limit) return best;
  for (const KeyDef& k : canonical_keys())
    if (k.name.size() >= 4 && lower(unknown).find(k.name) != std::string::npos) return k.name;
  return "";
}

std::string closest_name(const std::string& unknown, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(lower(unknown), lower(c));
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  if (best_d <= std::max<size_t>(2, unknown.size() / 3)) return best;
  // A prefix of a real name (--epoch for --epochs) is worth suggesting too.
  for (const std::string& c : candidates)
    if (unknown.size() >= 4 && c.rfind(unknown, 0) == 0) return c;
  return "";
}

std::string keys_table_text() {
  std::ostringstream o;
  const json defaults = default_settings();
  const char* groups[] = {"model (maml_config)", "data", "run"};
  for (int g = 0; g < 3; ++g) {
    o << "# " << groups[g] << " keys\n";
    for (const KeyDef& k : canonical_keys()) {
      if (static_cast<int>(k.group) != g) continue;
      std::string kind = kind_text(k.kind);
      if (k.kind == KeyKind::Choice) {
        kind.clear();
        for (size_t i = 0; i < k.choices.size(); ++i) kind += (i ? "|" : "") + k.choices[i];
      }
      o << "  " << k.name << " (" << kind << ", default " << defaults.at(k.name).dump() << "): " << k.doc << "\n";
    }
  }
  o << "# MAML++ reference keys accepted as aliases\n";
  for (const AliasDef& a : reference_aliases()) {
    o << "  " << a.name << " -> ";
    for (size_t i = 0; i < a.targets.size(); ++i) o << (i ? ", " : "") << a.targets[i];
    if (!a.doc.empty()) o << " (" << a.doc << ")";
    o << "\n";
  }
  o << "# MAML++ reference keys accepted and ignored\n";
  for (const IgnoredDef& i : ignored_keys()) {
    o << "  " << i.name;
    if (!i.required.is_null()) o << " (only " << i.required.dump() << ")";
    o << ": " << i.note << "\n";
  }
  return o.str();
}

namespace {

// `text` as JSON when it is valid JSON, else nothing; through src/io's strict reader, so a value
// nested deeper than a config can be is an error (it used to crash the CLI), not a string.
std::optional<json> json_value(const std::string& text, const std::string& key) {
  io::JsonLimits limits;
  limits.max_depth = kMaxJsonDepth;
  try {
    return io::parse_json_strict(text.data(), text.data() + text.size(), limits, "value");
  } catch (const Error& e) {
    if (std::string(e.what()).find("nested deeper") != std::string::npos)
      throw usage_error("command line: the value of key '" + key + "' is nested deeper than " +
                        std::to_string(kMaxJsonDepth) + " levels");
    return std::nullopt;
  }
}

}  // namespace

json parse_cli_value(const std::string& text, KeyKind kind, const std::string& key) {
  if (kind == KeyKind::String) return text;
  if (const std::optional<json> v = json_value(text, key)) {
    if (kind == KeyKind::StringList && !v->is_array() && !v->is_string()) return json::array({text});
    return *v;
  }
  if (kind == KeyKind::FloatList || kind == KeyKind::StringList || kind == KeyKind::IntList) {
    json arr = json::array();
    std::stringstream ss(text);
    std::string part;
    while (std::getline(ss, part, ',')) {
      if (kind == KeyKind::StringList) {
        arr.push_back(part);
      } else {
        const std::optional<json> n = json_value(part, key);
        arr.push_back(n ? *n : json(part));
      }
    }
    return arr;
  }
  return text;
}

}  // namespace mamlpp::cli
