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
  std::string dataset;  // synthetic | omniglot | folder
  std::string data_dir;
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

  int32_t eval_batch() const { return eval_batch_size > 0 ? eval_batch_size : batch_size; }
};

// Decodes a canonical object (every key present, values already checked by apply_keys).
Settings decode_settings(const nlohmann::json& canonical);

// Reads a JSON file: one object, no duplicate keys. Errors (kExitUsage) name the file and, for
// syntax errors, the line and column.
nlohmann::json read_json_file(const std::string& path, const std::string& what = "config file");

// Writes `value` to `path` atomically (temporary file, fsync, rename) with src/io.
void write_json_file(const std::string& path, const nlohmann::json& value);

// Checks the combinations apply_keys cannot see (per key): sizes >= 1, fractions, list lengths.
// Throws CliError(kExitUsage) naming the key.
void check_settings(const Settings& s, const std::string& where);

}  // namespace mamlpp::cli
