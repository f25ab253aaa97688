#include "cli/settings.hpp"

#include <algorithm>
#include <cmath>

#include "cli/config_table.hpp"
#include "cli/errors.hpp"
#include "common/error.hpp"
#include "io/file.hpp"
#include "io/strict_json.hpp"

namespace mamlpp::cli {

using json = nlohmann::json;

Settings decode_settings(const json& c) {
  Settings s;
  maml_config_init(&s.model);
  maml_config& m = s.model;
  config_from_canonical(c, m);

  s.dataset = c.at("dataset").get<std::string>();
  s.data_dir = c.at("data_dir").get<std::string>();
  s.csv_label = c.at("csv_label").get<std::string>();
  s.csv_task = c.at("csv_task").get<std::string>();
  s.csv_targets = c.at("csv_targets").get<std::vector<std::string>>();
  s.csv_header = c.at("csv_header").get<bool>();
  s.archives = c.at("archives").get<std::vector<std::string>>();
  s.split = c.at("split").get<std::string>();
  s.split_dir = c.at("split_dir").get<std::string>();
  s.split_fractions = c.at("split_fractions").get<std::vector<double>>();
  s.augment = c.at("augment").is_null() ? -1 : (c.at("augment").get<bool>() ? 1 : 0);
  s.resize = c.at("resize").get<std::string>();
  s.mean = c.at("mean").get<std::vector<float>>();
  s.std = c.at("std").get<std::vector<float>>();
  s.reference_pixels = c.at("reference_pixels").get<bool>();
  s.synthetic_classes = c.at("synthetic_classes").get<int32_t>();
  s.synthetic_images = c.at("synthetic_images").get<int32_t>();
  s.synthetic_seed = c.at("synthetic_seed").get<uint64_t>();
  s.k_shot = c.at("k_shot").get<int32_t>();
  s.q_query = c.at("q_query").get<int32_t>();
  s.batch_size = c.at("batch_size").get<int32_t>();
  s.val_tasks = c.at("val_tasks").get<int32_t>();
  s.test_tasks = c.at("test_tasks").get<int32_t>();
  s.eval_batch_size = c.at("eval_batch_size").get<int32_t>();
  s.train_seed = c.at("train_seed").is_null() ? m.seed : c.at("train_seed").get<uint64_t>();
  s.val_seed = c.at("val_seed").get<uint64_t>();

  s.out = c.at("out").get<std::string>();
  s.metrics = c.at("metrics").get<std::string>();
  s.keep_best = c.at("keep_best").get<int32_t>();
  s.log_every = c.at("log_every").get<int32_t>();
  s.workers = c.at("workers").get<int32_t>();
  s.prefetch = c.at("prefetch").get<int32_t>();
  s.dist_timeout = c.at("dist_timeout").get<double>();
  return s;
}

json read_json_file(const std::string& path, const std::string& what) {
  // Regular files only (a FIFO would block, /dev/zero never end), through the project's one
  // strict JSON reader: no duplicate keys, a depth limit (deep nesting used to crash the CLI).
  std::vector<uint8_t> bytes;
  try {
    bytes = io::read_whole_file(path, kMaxJsonFileSize);
  } catch (const Error& e) {
    throw usage_error(std::string(e.what()) + " (the " + what + ")");
  }
  const char* text = reinterpret_cast<const char*>(bytes.data());
  io::JsonLimits limits;
  limits.max_depth = kMaxJsonDepth;
  limits.allow_byte_order_mark = true;  // some editors write one
  json value;
  try {
    value = io::parse_json_strict(text, text + bytes.size(), limits, path);
  } catch (const Error& e) {
    throw usage_error(e.what());
  }
  if (!value.is_object()) throw usage_error(path + ": the " + what + " must be one JSON object {...}");
  return value;
}

void write_json_file(const std::string& path, const json& value) {
  const std::string text = value.dump(2) + "\n";
  with_model_errors("", [&] {
    io::atomic_write_file(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  });
}

void check_settings(const Settings& s, const std::string& where) {
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) throw usage_error(where + ": " + what);
  };
  // Every count has an upper limit far above any real run, so that a typo (val_tasks = 1e9) is
  // an error naming the key instead of hours of work or an allocation no machine makes.
  auto count = [&](const char* key, int64_t v, int64_t lo, int64_t hi) {
    need(v >= lo && v <= hi, std::string(key) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                 "], got " + std::to_string(v));
  };
  count("k_shot", s.k_shot, 1, kMaxShots);
  count("q_query", s.q_query, 1, kMaxShots);
  count("batch_size", s.batch_size, 1, kMaxBatch);
  count("val_tasks", s.val_tasks, 0, kMaxValTasks);
  count("test_tasks", s.test_tasks, 1, kMaxTestTasks);
  count("eval_batch_size", s.eval_batch_size, 0, kMaxBatch);
  count("keep_best", s.keep_best, 1, kMaxKeepBest);
  count("log_every", s.log_every, 0, int64_t{1} << 30);
  count("workers", s.workers, 1, 64);
  count("prefetch", s.prefetch, 1, 256);
  need(std::isfinite(s.dist_timeout) && s.dist_timeout >= 0.1 && s.dist_timeout <= 86400,
       "dist_timeout must be in [0.1, 86400] seconds, got " + std::to_string(s.dist_timeout));
  count("synthetic_classes", s.synthetic_classes, 3, kMaxSyntheticClasses);
  count("synthetic_images", s.synthetic_images, 2, kMaxSyntheticImages);
  // Products: the images of the meta-batches in flight, and of the synthetic data set.
  const double image_bytes = 4.0 * s.model.image_channels * s.model.image_height * s.model.image_width;
  const double gib = static_cast<double>(int64_t{1} << 30);
  const double batch_images = static_cast<double>(std::max(s.batch_size, s.eval_batch())) * s.model.n_way *
                              (static_cast<double>(s.k_shot) + s.q_query);
  const double in_flight = batch_images * image_bytes * (s.prefetch + s.workers + 1);
  need(in_flight <= kMaxDataBytes,
       "the meta-batches in flight would hold " + std::to_string(in_flight / gib).substr(0, 6) +
           " GiB of images (batch_size x n_way x (k_shot + q_query) images, prefetch + workers + 1 batches), more than " +
           std::to_string(kMaxDataBytes / (int64_t{1} << 30)) + " GiB; lower batch_size, k_shot or q_query");
  if (s.dataset == "synthetic") {
    const double bytes = static_cast<double>(s.synthetic_classes) * s.synthetic_images * image_bytes;
    need(bytes <= kMaxDataBytes, "the synthetic data set would hold " + std::to_string(bytes / gib).substr(0, 6) +
                                     " GiB of images, more than " +
                                     std::to_string(kMaxDataBytes / (int64_t{1} << 30)) +
                                     " GiB; lower synthetic_classes or synthetic_images");
  }
  need(s.split_fractions.size() >= 2 && s.split_fractions.size() <= 3,
       "split_fractions needs 2 values (train, val) or 3 (train, val, test)");
  need(s.split_fractions[0] > 0 && s.split_fractions[1] >= 0 &&
           s.split_fractions[0] + s.split_fractions[1] < 1.0 + 1e-9,
       "split_fractions: train > 0, val >= 0 and train + val <= 1");
  need(s.mean.size() == s.std.size(), "mean and std need the same number of values (one per channel)");
  need(s.mean.empty() || static_cast<int32_t>(s.mean.size()) == s.model.image_channels,
       "mean/std need one value per channel (image_channels = " + std::to_string(s.model.image_channels) + ")");
  for (float v : s.std) need(v > 0, "every std value must be > 0");
  if (s.metrics.empty()) return;
  const std::string& m = s.metrics;
  auto ends = [&](const std::string& e) { return m.size() >= e.size() && m.compare(m.size() - e.size(), e.size(), e) == 0; };
  need(ends(".csv") || ends(".jsonl") || ends(".ndjson") || ends(".json"),
       "metrics file '" + m + "' must end in .csv or .jsonl");
}

}  // namespace mamlpp::cli
