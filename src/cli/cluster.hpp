// `mamlpp train` under torchrun: the process group torchrun's environment describes (maml_group_*),
// which rank this process is, and which share of every meta-batch is its own.
#pragma once

#include <mamlpp/mamlpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "cli/model.hpp"

namespace mamlpp::cli {

class Cluster {
 public:
  // Joins the group when torchrun (or anyone) set WORLD_SIZE > 1, else returns nullptr (a plain
  // single-process run). Errors: CliError (usage for a malformed environment, runtime when the
  // rendezvous fails).
  static std::unique_ptr<Cluster> from_env(double timeout_seconds);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int32_t rank() const { return rank_; }
  int32_t world_size() const { return world_; }
  int32_t local_rank() const { return local_; }
  bool leader() const { return rank_ == 0; }

  // Rank r's contiguous share of a meta-batch of `batch` tasks: the first batch % world ranks take
  // one task more. Every rank needs at least one (checked by check_batch).
  void share(int32_t batch, int32_t& offset, int32_t& count) const;
  // Before joining (every rank at once, so none waits for a rank that refused): a meta-batch
  // smaller than WORLD_SIZE is a usage error.
  static void check_batch(int32_t batch);

  // maml_group_attach (collective): every rank then holds rank 0's model.
  void attach(const Model& model) const;
  // Sums values over the ranks (collective).
  void allreduce_sum(double* values, int32_t count) const;

 private:
  Cluster() = default;
  maml_group* group_ = nullptr;
  int32_t rank_ = 0, world_ = 1, local_ = 0;
};

// torchrun's restart counter (TORCHELASTIC_RESTART_COUNT): 0 on the first launch.
int32_t torchrun_restart_count();

}  // namespace mamlpp::cli
