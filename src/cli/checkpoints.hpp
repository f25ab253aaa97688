// A training run's output folder:
//   epoch_NNNN.maml  the model after epoch NNNN (1-based), kept for the best keep_best epochs by
//                    validation accuracy, plus the most recent one
//   latest.maml      the model after the last completed epoch
//   state.json       the commit point: last completed epoch and step, the best-k list, the
//                    settings used, the data stream position and the metrics history
// Every file is replaced atomically (maml_save for models; temporary file + fsync + rename for
// the rest), in the order epoch file, latest.maml, state.json, then pruning. A run killed at any
// moment therefore leaves the previous epoch's files intact, and --resume continues from the
// epoch state.json names. A lock file (flock) keeps two processes from writing one folder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/model.hpp"

namespace mamlpp::cli {

struct BestEntry {
  int32_t epoch = 0;
  std::string file;  // relative to the folder
  double score = 0;  // validation accuracy (training accuracy when there is no validation)
  double val_loss = 0;
};

struct RunState {
  int32_t epochs_completed = 0;
  int64_t step = 0;
  std::string latest_epoch_file;
  std::vector<BestEntry> best;  // best first
  std::string score_name = "val_acc";
  nlohmann::json config;               // canonical settings (config_keys.hpp)
  uint64_t train_seed = 0;             // the training task stream: batch i = f(train_seed, i)
  int64_t next_batch = 0;              // = step
  std::vector<nlohmann::json> history; // metrics rows
  double train_seconds = 0;            // summed over sessions
  double wait_seconds = 0;
  int32_t sessions = 0;
};

nlohmann::json to_json(const RunState& s);

// Reads a state.json (`where` names it) as strictly as a model file: every field present, of its
// type and in range, no unknown field, file names derived from epoch numbers, the history one
// well-formed row per completed epoch, and the config made of canonical keys whose values pass
// the same checks as a config file's (it comes back complete, with defaults for keys an older
// version did not write). Throws CliError(kExitModel) naming the file and the field.
RunState run_state_from_json(const nlohmann::json& j, const std::string& where);

// Throws CliError(kExitModel) naming both files and the key unless the model's config equals
// `expected` (the state's) in every model key but the device, which each session chooses.
void check_model_matches_state(const Model& model, const std::string& model_path, const maml_config& expected,
                               const std::string& state_path);

class CheckpointDir {
 public:
  CheckpointDir(std::string dir, int32_t keep_best);
  ~CheckpointDir();
  CheckpointDir(const CheckpointDir&) = delete;
  CheckpointDir& operator=(const CheckpointDir&) = delete;

  const std::string& dir() const { return dir_; }
  std::string path(const std::string& file) const;
  std::string state_path() const { return path("state.json"); }
  std::string latest_path() const { return path("latest.maml"); }
  static std::string epoch_file(int32_t epoch);  // "epoch_0003.maml"
  static bool has_state(const std::string& dir);

  // New run: creates the folder; refuses one that already holds state.json (kExitUsage).
  void create_new();
  // Resume: reads state.json (kExitModel when missing or malformed).
  // `flag` names the option that gave the folder (--resume, --checkpoints) in error messages.
  RunState load_state(const std::string& flag = "--resume") const;
  // Takes the folder's lock (kExitUsage if another process holds it) and removes temporary
  // files a killed writer left behind.
  void lock_and_clean(const std::string& metrics_path);

  // Loads the model state.json points at: latest.maml when its step matches, else the last
  // epoch's file (a kill between writing latest.maml and state.json), on expected's device, and
  // checks that its config is `expected` (check_model_matches_state).
  Model load_resume_model(const RunState& state, const maml_config& expected) const;

  // Saves the epoch's checkpoint, latest.maml and state.json (the commit), then prunes epoch
  // files outside the best keep_best and the latest. Updates `state` (best list, counters).
  void commit_epoch(const Model& model, RunState& state, int32_t epoch, double score, double val_loss);

  void set_keep_best(int32_t k) { keep_best_ = k; }

 private:
  void prune(const RunState& state) const;

  std::string dir_;
  int32_t keep_best_;
  int lock_fd_ = -1;
};

}  // namespace mamlpp::cli
