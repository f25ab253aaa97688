#include "cli/cluster.hpp"

#include <cstdlib>

#include "cli/errors.hpp"

namespace mamlpp::cli {

std::unique_ptr<Cluster> Cluster::from_env(double timeout_seconds) {
  const char* world = std::getenv("WORLD_SIZE");
  if (world == nullptr || std::string(world).empty() || std::string(world) == "1") return nullptr;
  std::unique_ptr<Cluster> c(new Cluster());
  const maml_status s = maml_group_join_env(timeout_seconds, &c->group_);
  if (s == MAML_E_INVALID_ARGUMENT) throw usage_error(std::string("torchrun environment: ") + maml_last_error());
  check(s, "joining the process group (torchrun)");
  check(maml_group_rank(c->group_, &c->rank_, &c->world_, &c->local_), "process group");
  return c;
}

Cluster::~Cluster() { maml_group_free(group_); }

void Cluster::share(int32_t batch, int32_t& offset, int32_t& count) const {
  const int32_t base = batch / world_, extra = batch % world_;
  count = base + (rank_ < extra ? 1 : 0);
  offset = rank_ * base + (rank_ < extra ? rank_ : extra);
}

void Cluster::check_batch(int32_t batch) {
  const char* w = std::getenv("WORLD_SIZE");
  const int32_t world = w == nullptr ? 1 : std::atoi(w);
  if (batch < world)
    throw usage_error("batch_size " + std::to_string(batch) + " is smaller than the " + std::to_string(world) +
                      " ranks torchrun started: every rank adapts at least one task of each meta-batch. "
                      "Start at most " + std::to_string(batch) + " processes (--nproc_per_node), or raise batch_size");
}

void Cluster::attach(const Model& model) const {
  check(maml_group_attach(model.get(), group_), "attaching the model to the process group");
}

void Cluster::allreduce_sum(double* values, int32_t count) const {
  check(maml_group_allreduce_sum(group_, values, count), "pooling results over the process group");
}

int32_t torchrun_restart_count() {
  const char* v = std::getenv("TORCHELASTIC_RESTART_COUNT");
  return v == nullptr ? 0 : std::atoi(v);
}

}  // namespace mamlpp::cli
