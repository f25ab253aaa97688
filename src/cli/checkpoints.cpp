#include "cli/checkpoints.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

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

RunState run_state_from_json(const json& j, const std::string& where) {
  RunState s;
  try {
    if (j.value("format", "") != "mamlpp-train-state")
      throw model_error(where + ": not a mamlpp training state (no \"format\": \"mamlpp-train-state\")");
    if (j.at("version").get<int>() != 1)
      throw model_error(where + ": state version " + j.at("version").dump() + " is not supported (1 is)");
    s.epochs_completed = j.at("epochs_completed").get<int32_t>();
    s.step = j.at("step").get<int64_t>();
    s.latest_epoch_file = j.at("latest_epoch_file").get<std::string>();
    s.score_name = j.value("score", "val_acc");
    for (const json& b : j.at("best"))
      s.best.push_back({b.at("epoch").get<int32_t>(), b.at("file").get<std::string>(),
                        b.at("score").get<double>(), b.value("val_loss", 0.0)});
    s.config = j.at("config");
    s.train_seed = j.at("data").at("train_seed").get<uint64_t>();
    s.next_batch = j.at("data").at("next_batch").get<int64_t>();
    for (const json& r : j.at("history")) s.history.push_back(r);
    s.train_seconds = j.value("train_seconds", 0.0);
    s.wait_seconds = j.value("wait_seconds", 0.0);
    s.sessions = j.value("sessions", 0);
  } catch (const json::exception& e) {
    throw model_error(where + ": malformed training state (" + std::string(e.what()) + ")");
  }
  if (s.epochs_completed < 0 || s.step < 0 || s.next_batch != s.step)
    throw model_error(where + ": inconsistent training state (epochs_completed " +
                      std::to_string(s.epochs_completed) + ", step " + std::to_string(s.step) + ")");
  return s;
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

RunState CheckpointDir::load_state() const {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) throw model_error(dir_ + ": no such run folder to resume");
  if (!has_state(dir_))
    throw model_error(state_path() + ": not found; --resume needs a folder written by 'mamlpp train --out'");
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

Model CheckpointDir::load_resume_model(const RunState& state, int32_t device_type, int32_t device_index) const {
  std::error_code ec;
  if (fs::exists(latest_path(), ec)) {
    Model m = Model::load(latest_path(), device_type, device_index);
    if (m.step() == state.step) return m;
  }
  if (!state.latest_epoch_file.empty() && fs::exists(path(state.latest_epoch_file), ec)) {
    Model m = Model::load(path(state.latest_epoch_file), device_type, device_index);
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
