#include "cli/settings.hpp"

#include <fstream>
#include <sstream>

#include "cli/config_table.hpp"
#include "cli/errors.hpp"
#include "io/file.hpp"

namespace mamlpp::cli {

using json = nlohmann::json;

Settings decode_settings(const json& c) {
  Settings s;
  maml_config_init(&s.model);
  maml_config& m = s.model;
  config_from_canonical(c, m);

  s.dataset = c.at("dataset").get<std::string>();
  s.data_dir = c.at("data_dir").get<std::string>();
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
  return s;
}

json read_json_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw usage_error(path + ": cannot open the " + what + " (check the path)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw usage_error(path + ": cannot read the " + what);
  const std::string text = buffer.str();

  // Duplicate keys would silently keep the last value; refuse them, naming the key.
  std::vector<std::vector<std::string>> seen;
  std::string duplicate;
  json::parser_callback_t cb = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: seen.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!seen.empty()) seen.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string k = parsed.get<std::string>();
        if (!seen.empty()) {
          for (const std::string& s : seen.back())
            if (s == k && duplicate.empty()) duplicate = k;
          seen.back().push_back(k);
        }
        break;
      }
      default: break;
    }
    return true;
  };
  json value;
  try {
    value = json::parse(text, cb);
  } catch (const json::parse_error& e) {
    std::string m = e.what();
    const size_t p = m.find("] ");
    if (p != std::string::npos && m.rfind("[json.exception", 0) == 0) m = m.substr(p + 2);
    throw usage_error(path + ": not valid JSON: " + m);
  }
  if (!duplicate.empty()) throw usage_error(path + ": key '" + duplicate + "' appears twice; keep one");
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
  need(s.k_shot >= 1, "k_shot must be >= 1");
  need(s.q_query >= 1, "q_query must be >= 1");
  need(s.batch_size >= 1, "batch_size must be >= 1");
  need(s.val_tasks >= 0, "val_tasks must be >= 0");
  need(s.test_tasks >= 1, "test_tasks must be >= 1");
  need(s.eval_batch_size >= 0, "eval_batch_size must be >= 0");
  need(s.keep_best >= 1, "keep_best must be >= 1");
  need(s.log_every >= 0, "log_every must be >= 0");
  need(s.workers >= 1 && s.workers <= 64, "workers must be in [1, 64]");
  need(s.prefetch >= 1 && s.prefetch <= 256, "prefetch must be in [1, 256]");
  need(s.synthetic_classes >= 3, "synthetic_classes must be >= 3");
  need(s.synthetic_images >= 2, "synthetic_images must be >= 2");
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
