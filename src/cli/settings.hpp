// Typed settings of a run, decoded from the canonical JSON object of config_keys.hpp, and where
// they come from: defaults, then a --config file, then command-line flags.
#pragma once

#include <mamlpp/mamlpp.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mamlpp::cli {

struct Settings {
  maml_config model{};  // the library's config (n_way, image shape, backbone, schedules, device)

  // data
  std::string dataset;  // synthetic | omniglot | folder | sinusoid | csv
  std::string data_dir;  // omniglot, folder: a folder; csv: the CSV file
  std::string csv_label, csv_task;       // csv: classification label column; regression task column
  std::vector<std::string> csv_targets;  // csv: regression target columns
  bool csv_header = true;
  std::vector<std::string> archives;
  std::string split;  // auto | reference | seeded | vinyals | pre_split
  std::string split_dir;
  std::vector<double> split_fractions;
  int augment = -1;     // -1 auto, 0 off, 1 on
  std::string resize;   // auto | bilinear | nearest
  std::vector<float> mean, std;
  bool reference_pixels = false;
  int32_t synthetic_classes = 0, synthetic_images = 0;
  uint64_t synthetic_seed = 0;
  int32_t k_shot = 1, q_query = 1, batch_size = 8;
  int32_t val_tasks = 100, test_tasks = 600, eval_batch_size = 0;
  uint64_t train_seed = 0, val_seed = 0;

  // run
  std::string out, metrics;
  int32_t keep_best = 5, log_every = 0, workers = 1, prefetch = 4;
  double dist_timeout = 300.0;  // seconds, under torchrun

  int32_t eval_batch() const { return eval_batch_size > 0 ? eval_batch_size : batch_size; }
};

// Decodes a canonical object (every key present, values already checked by apply_keys).
Settings decode_settings(const nlohmann::json& canonical);

// JSON files the CLI reads (configs, state.json) are at most this large and this deep.
constexpr uint64_t kMaxJsonFileSize = uint64_t{256} << 20;
constexpr int kMaxJsonDepth = 32;

// Reads a JSON file through src/io's strict reader: a regular file (a FIFO, device or folder is
// refused without blocking), one object, no duplicate keys, nested at most kMaxJsonDepth deep.
// Errors (kExitUsage) name the file and, for syntax errors, the line and column.
nlohmann::json read_json_file(const std::string& path, const std::string& what = "config file");

// Writes `value` to `path` atomically (temporary file, fsync, rename) with src/io.
void write_json_file(const std::string& path, const nlohmann::json& value);

// Upper limits of the counts (docs/CLI.md): far above any real run, so that a typo is an error.
constexpr int64_t kMaxShots = 10000;            // k_shot, q_query
constexpr int64_t kMaxBatch = 10000;            // batch_size, eval_batch_size
constexpr int64_t kMaxValTasks = 100000;        // validation tasks after every epoch
constexpr int64_t kMaxTestTasks = 1000000;      // test tasks of one 'mamlpp eval'
constexpr int64_t kMaxKeepBest = 10000;
constexpr int64_t kMaxSyntheticClasses = 1000000;
constexpr int64_t kMaxSyntheticImages = 100000;  // per class
constexpr int64_t kMaxDataBytes = int64_t{16} << 30;  // images in flight, or of a synthetic set

// Checks the combinations apply_keys cannot see (per key): every count in range (the limits
// above), fractions, list lengths, and the memory the images of the meta-batches in flight and of
// a synthetic data set would take. Throws CliError(kExitUsage) naming the key.
void check_settings(const Settings& s, const std::string& where);

}  // namespace mamlpp::cli
