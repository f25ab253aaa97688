#include "cli/checkpoints.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>

#include "cli/config_keys.hpp"
#include "cli/config_table.hpp"
#include "cli/errors.hpp"
#include "cli/settings.hpp"

namespace mamlpp::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

json to_json(const RunState& s) {
  json j;
  j["format"] = "mamlpp-train-state";
  j["version"] = 1;
  j["epochs_completed"] = s.epochs_completed;
  j["step"] = s.step;
  j["latest"] = "latest.maml";
  j["latest_epoch_file"] = s.latest_epoch_file;
  j["score"] = s.score_name;
  j["best"] = json::array();
  for (const BestEntry& b : s.best)
    j["best"].push_back({{"epoch", b.epoch}, {"file", b.file}, {"score", b.score}, {"val_loss", b.val_loss}});
  j["config"] = s.config;
  j["data"] = {{"train_seed", s.train_seed}, {"next_batch", s.next_batch}};
  j["history"] = s.history;
  j["train_seconds"] = s.train_seconds;
  j["wait_seconds"] = s.wait_seconds;
  j["sessions"] = s.sessions;
  return j;
}

namespace {

// Reads a state.json as strictly as a model file is read: every field present with its type and
// range, nothing unknown, and what is derived agreeing with what it derives from. Every failure is
// CliError(kExitModel) naming the file and the field; no nlohmann exception escapes.
class StateReader {
 public:
  explicit StateReader(std::string where) : where_(std::move(where)) {}

  [[noreturn]] void bad(const std::string& field, const std::string& what) const {
    throw model_error(where_ + ": \"" + field + "\" " + what +
                      "; the training state was changed or damaged (restore it, or start a new run with another --out)");
  }

  const json& member(const json& object, const std::string& key, const std::string& field) const {
    const auto it = object.find(key);
    if (it == object.end()) bad(field, "is missing");
    return *it;
  }
  void only(const json& object, std::initializer_list<const char*> keys, const std::string& field) const {
    if (!object.is_object()) bad(field, "must be a JSON object");
    for (const auto& [key, value] : object.items()) {
      (void)value;
      bool known = false;
      for (const char* k : keys) known = known || key == k;
      if (!known) bad(field.empty() ? key : field + "." + key, "is not a field of a training state");
    }
  }
  int64_t integer(const json& v, const std::string& field, int64_t lo, int64_t hi) const {
    if (!v.is_number_integer()) bad(field, "must be an integer");
    if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(hi)
                               : v.get<int64_t>() < lo || v.get<int64_t>() > hi)
      bad(field, "is " + v.dump() + ", outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v.is_number_unsigned() ? static_cast<int64_t>(v.get<uint64_t>()) : v.get<int64_t>();
  }
  uint64_t seed(const json& v, const std::string& field) const {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
      bad(field, "must be a non-negative integer");
    return v.get<uint64_t>();
  }
  double number(const json& v, const std::string& field, bool null_ok = false) const {
    if (null_ok && v.is_null()) return 0;
    if (!v.is_number() || !std::isfinite(v.get<double>())) bad(field, "must be a finite number");
    return v.get<double>();
  }
  std::string string(const json& v, const std::string& field) const {
    if (!v.is_string()) bad(field, "must be a string");
    return v.get<std::string>();
  }

 private:
  std::string where_;
};

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();

}  // namespace

RunState run_state_from_json(const json& j, const std::string& where) {
  const StateReader r(where);
  if (!j.is_object() || j.value("format", json()) != "mamlpp-train-state")
    throw model_error(where + ": not a mamlpp training state (no \"format\": \"mamlpp-train-state\")");
  r.only(j, {"format", "version", "epochs_completed", "step", "latest", "latest_epoch_file", "score", "best",
             "config", "data", "history", "train_seconds", "wait_seconds", "sessions"},
         "");
  const json& version = r.member(j, "version", "version");
  if (version != json(1))
    throw model_error(where + ": state version " + version.dump().substr(0, 40) + " is not supported (1 is)");

  RunState s;
  s.epochs_completed = static_cast<int32_t>(r.integer(r.member(j, "epochs_completed", "epochs_completed"),
                                                      "epochs_completed", 0, kMaxInt32));
  s.step = r.integer(r.member(j, "step", "step"), "step", 0, std::numeric_limits<int64_t>::max());
  if (r.string(r.member(j, "latest", "latest"), "latest") != "latest.maml") r.bad("latest", "must be \"latest.maml\"");
  s.latest_epoch_file = r.string(r.member(j, "latest_epoch_file", "latest_epoch_file"), "latest_epoch_file");
  // File names come from the epoch numbers alone: a state cannot point outside its folder.
  if (s.latest_epoch_file != (s.epochs_completed > 0 ? CheckpointDir::epoch_file(s.epochs_completed) : ""))
    r.bad("latest_epoch_file", "disagrees with epochs_completed " + std::to_string(s.epochs_completed));
  s.score_name = r.string(r.member(j, "score", "score"), "score");
  if (s.score_name != "val_acc" && s.score_name != "train_acc" && s.score_name != "-val_loss" &&
      s.score_name != "-train_loss")
    r.bad("score", "must be \"val_acc\", \"train_acc\", \"-val_loss\" or \"-train_loss\" (regression)");

  const json& best = r.member(j, "best", "best");
  if (!best.is_array()) r.bad("best", "must be a list");
  for (size_t i = 0; i < best.size(); ++i) {
    const std::string f = "best[" + std::to_string(i) + "]";
    r.only(best[i], {"epoch", "file", "score", "val_loss"}, f);
    BestEntry b;
    b.epoch = static_cast<int32_t>(r.integer(r.member(best[i], "epoch", f + ".epoch"), f + ".epoch", 1,
                                             std::max<int64_t>(1, s.epochs_completed)));
    b.file = r.string(r.member(best[i], "file", f + ".file"), f + ".file");
    if (b.file != CheckpointDir::epoch_file(b.epoch)) r.bad(f + ".file", "disagrees with its epoch");
    b.score = r.number(r.member(best[i], "score", f + ".score"), f + ".score");
    if (best[i].contains("val_loss")) b.val_loss = r.number(best[i]["val_loss"], f + ".val_loss", true);
    s.best.push_back(b);
  }

  // The settings: canonical keys with values of their kinds, in range (as a config file's).
  const json& config = r.member(j, "config", "config");
  if (!config.is_object()) r.bad("config", "must be a JSON object");
  s.config = default_settings();
  try {
    apply_keys(config, where + ": config", s.config);
    for (const auto& [key, value] : config.items()) {
      (void)value;
      if (!find_key(key)) r.bad("config." + key, "is not a canonical key");
    }
    check_settings(decode_settings(s.config), where + ": config");
  } catch (const CliError& e) {
    if (e.code() != kExitUsage) throw;
    throw model_error(std::string(e.what()) + " (the training state was changed or damaged)");
  }

  const json& data = r.member(j, "data", "data");
  r.only(data, {"train_seed", "next_batch"}, "data");
  s.train_seed = r.seed(r.member(data, "train_seed", "data.train_seed"), "data.train_seed");
  s.next_batch = r.integer(r.member(data, "next_batch", "data.next_batch"), "data.next_batch", 0,
                           std::numeric_limits<int64_t>::max());
  if (s.next_batch != s.step) r.bad("data.next_batch", "disagrees with step " + std::to_string(s.step));

  const json& history = r.member(j, "history", "history");
  if (!history.is_array()) r.bad("history", "must be a list");
  if (history.size() != static_cast<size_t>(s.epochs_completed))
    r.bad("history", "has " + std::to_string(history.size()) + " rows for " + std::to_string(s.epochs_completed) +
                         " completed epochs");
  for (size_t i = 0; i < history.size(); ++i) {
    const json& row = history[i];
    const std::string f = "history[" + std::to_string(i) + "]";
    r.only(row, {"epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "meta_lr", "second_order",
                 "seconds", "wait_seconds"},
           f);
    if (r.integer(r.member(row, "epoch", f + ".epoch"), f + ".epoch", 0, kMaxInt32) != static_cast<int64_t>(i) + 1)
      r.bad(f + ".epoch", "must be " + std::to_string(i + 1));
    r.integer(r.member(row, "step", f + ".step"), f + ".step", 0, s.step);
    // train_acc is null for regression (no accuracy), as val_acc is without validation.
    r.number(r.member(row, "train_acc", f + ".train_acc"), f + ".train_acc", true);
    for (const char* k : {"train_loss", "meta_lr", "seconds", "wait_seconds"})
      r.number(r.member(row, k, f + "." + k), f + "." + k);
    for (const char* k : {"val_loss", "val_acc"}) r.number(r.member(row, k, f + "." + k), f + "." + k, true);
    if (!r.member(row, "second_order", f + ".second_order").is_boolean()) r.bad(f + ".second_order", "must be true or false");
    s.history.push_back(row);
  }
  s.train_seconds = j.contains("train_seconds") ? r.number(j["train_seconds"], "train_seconds") : 0.0;
  s.wait_seconds = j.contains("wait_seconds") ? r.number(j["wait_seconds"], "wait_seconds") : 0.0;
  s.sessions = j.contains("sessions") ? static_cast<int32_t>(r.integer(j["sessions"], "sessions", 0, kMaxInt32)) : 0;
  return s;
}

void check_model_matches_state(const Model& model, const std::string& model_path, const maml_config& expected,
                               const std::string& state_path) {
  const json have = config_to_canonical(model.config()), want = config_to_canonical(expected);
  for (const auto& [key, value] : want.items()) {
    if (key == "device_type" || key == "device_index") continue;  // chosen per session
    if (have.value(key, json()) != value)
      throw model_error(state_path + ": config key '" + key + "' is " + value.dump() + " but " + model_path +
                        " holds " + have.value(key, json()).dump() +
                        "; the state belongs to another run or was changed (restore it, or start a new run with "
                        "another --out)");
  }
}

CheckpointDir::CheckpointDir(std::string dir, int32_t keep_best) : dir_(std::move(dir)), keep_best_(keep_best) {}

CheckpointDir::~CheckpointDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string CheckpointDir::path(const std::string& file) const { return (fs::path(dir_) / file).string(); }

std::string CheckpointDir::epoch_file(int32_t epoch) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "epoch_%04d.maml", epoch);
  return buf;
}

bool CheckpointDir::has_state(const std::string& dir) {
  std::error_code ec;
  return fs::exists(fs::path(dir) / "state.json", ec);
}

void CheckpointDir::create_new() {
  std::error_code ec;
  if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec))
    throw usage_error(dir_ + ": exists and is not a folder; choose another --out");
  if (has_state(dir_))
    throw usage_error(dir_ + ": already holds a training run (state.json); continue it with "
                      "'mamlpp train --resume " + dir_ + "' or choose another --out");
  fs::create_directories(dir_, ec);
  if (ec) throw model_error(dir_ + ": cannot create the output folder (" + ec.message() + ")");
}

RunState CheckpointDir::load_state(const std::string& flag) const {
  std::error_code ec;
  if (!fs::exists(dir_, ec))
    throw model_error(dir_ + ": no such folder; " + flag + " takes a run folder written by 'mamlpp train --out'");
  if (!fs::is_directory(dir_, ec))
    throw model_error(dir_ + ": not a folder; " + flag + " takes a run folder written by 'mamlpp train --out'");
  if (!has_state(dir_))
    throw model_error(state_path() + ": not found, so " + dir_ + " is not a training run; " + flag +
                      " takes a folder written by 'mamlpp train --out'");
  json j;
  try {
    j = read_json_file(state_path(), "training state");
  } catch (const CliError& e) {
    throw model_error(e.what());
  }
  return run_state_from_json(j, state_path());
}

void CheckpointDir::lock_and_clean(const std::string& metrics_path) {
  lock_fd_ = ::open(path(".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw model_error(path(".lock") + ": cannot create the lock file");
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    throw usage_error(dir_ + ": another 'mamlpp train' is writing to this folder; wait for it or choose another --out");
  // Temporary files of atomic writes are ".<name>.tmp.<pid>.<n>"; with the lock held, any left
  // are from a killed writer.
  auto clean = [](const fs::path& folder, const std::string& prefix_filter) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
      const std::string name = e.path().filename().string();
      if (name.size() < 2 || name[0] != '.' || name.find(".tmp.") == std::string::npos) continue;
      if (!prefix_filter.empty() && name.rfind("." + prefix_filter + ".tmp.", 0) != 0) continue;
      fs::remove(e.path(), ec);
    }
  };
  clean(dir_, "");
  if (!metrics_path.empty()) {
    const fs::path m(metrics_path);
    const fs::path parent = m.has_parent_path() ? m.parent_path() : fs::path(".");
    clean(parent, m.filename().string());
  }
}

Model CheckpointDir::load_resume_model(const RunState& state, const maml_config& expected) const {
  std::error_code ec;
  const auto load = [&](const std::string& file) {
    Model m = Model::load(file, expected.device_type, expected.device_index);
    check_model_matches_state(m, file, expected, state_path());
    return m;
  };
  if (fs::exists(latest_path(), ec)) {
    Model m = load(latest_path());
    if (m.step() == state.step) return m;
  }
  if (!state.latest_epoch_file.empty() && fs::exists(path(state.latest_epoch_file), ec)) {
    Model m = load(path(state.latest_epoch_file));
    if (m.step() == state.step) return m;
    throw model_error(path(state.latest_epoch_file) + ": holds step " + std::to_string(m.step()) +
                      " but state.json says " + std::to_string(state.step) + "; cannot resume this run");
  }
  if (state.step == 0) return Model();  // nothing saved yet: start afresh
  throw model_error(latest_path() + ": missing or not at step " + std::to_string(state.step) +
                    " (state.json), and " + path(state.latest_epoch_file) + " is missing; cannot resume");
}

void CheckpointDir::commit_epoch(const Model& model, RunState& state, int32_t epoch, double score, double val_loss) {
  const std::string file = epoch_file(epoch);
  model.save(path(file));
  model.save(latest_path());
  state.epochs_completed = epoch;
  state.step = model.step();
  state.next_batch = state.step;
  state.latest_epoch_file = file;
  state.best.erase(std::remove_if(state.best.begin(), state.best.end(),
                                  [&](const BestEntry& b) { return b.epoch == epoch; }),
                   state.best.end());
  state.best.push_back({epoch, file, score, val_loss});
  std::stable_sort(state.best.begin(), state.best.end(), [](const BestEntry& a, const BestEntry& b) {
    return a.score != b.score ? a.score > b.score : a.epoch < b.epoch;
  });
  if (static_cast<int32_t>(state.best.size()) > keep_best_) state.best.resize(static_cast<size_t>(keep_best_));
  write_json_file(state_path(), to_json(state));
  prune(state);
}

void CheckpointDir::prune(const RunState& state) const {
  std::set<std::string> keep;
  for (const BestEntry& b : state.best) keep.insert(b.file);
  keep.insert(state.latest_epoch_file);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("epoch_", 0) != 0 || e.path().extension() != ".maml") continue;
    if (!keep.count(name)) fs::remove(e.path(), ec);
  }
}

}  // namespace mamlpp::cli
