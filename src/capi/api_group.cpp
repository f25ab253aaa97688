// maml_group_*: distributed meta-training over c10d (core/distributed.hpp, core/data_parallel.hpp).
#include <cstring>
#include <memory>

#include "capi/boundary.hpp"
#include "common/error.hpp"
#include "core/distributed.hpp"

using namespace mamlpp;
using namespace mamlpp::capi;

namespace {

double timeout_or_default(double seconds) {
  if (seconds == 0.0) return kDefaultGroupTimeoutSeconds;
  return seconds;  // checked with the other options
}

Group& group_of(const maml_group* group) {
  require_non_null(group, "group");
  if (!group->impl) throw invalid_argument("group handle is empty");
  return *group->impl;
}

void join(const GroupOptions& o, maml_group** out) {
  const std::string unavailable = distributed_unavailable_reason();
  if (!unavailable.empty()) throw unsupported(unavailable);
  auto handle = std::make_unique<maml_group>();
  handle->impl = Group::join(o);
  *out = handle.release();
}

}  // namespace

extern "C" {

maml_status maml_group_join_env(double timeout_seconds, maml_group** out) {
  if (out != nullptr) *out = nullptr;
  return guarded([&] {
    require_non_null(out, "out");
    GroupOptions o = group_options_from_env(timeout_or_default(timeout_seconds));
    check_group_options(o);
    join(o, out);
  });
}

maml_status maml_group_join(const char* master_addr, int32_t master_port, int32_t rank, int32_t world_size,
                            int32_t local_rank, double timeout_seconds, maml_group** out) {
  if (out != nullptr) *out = nullptr;
  return guarded([&] {
    require_non_null(out, "out");
    require_non_null(master_addr, "master_addr");
    GroupOptions o;
    o.master_addr = master_addr;
    o.master_port = master_port;
    o.rank = rank;
    o.world_size = world_size;
    o.local_rank = local_rank == -1 ? rank : local_rank;
    o.timeout_seconds = timeout_or_default(timeout_seconds);
    check_group_options(o);
    join(o, out);
  });
}

maml_status maml_group_rank(const maml_group* group, int32_t* rank, int32_t* world_size, int32_t* local_rank) {
  return guarded([&] {
    const Group& g = group_of(group);
    if (rank != nullptr) *rank = g.rank();
    if (world_size != nullptr) *world_size = g.world_size();
    if (local_rank != nullptr) *local_rank = g.local_rank();
  });
}

maml_status maml_group_attach(maml_model* model, maml_group* group) {
  return guarded([&] {
    MetaLearner& m = model_of(model);
    group_of(group);
    m.attach(group->impl);
  });
}

maml_status maml_group_detach(maml_model* model) {
  return guarded([&] { model_of(model).detach(); });
}

maml_status maml_group_allreduce_sum(maml_group* group, double* values, int64_t count) {
  return guarded([&] {
    Group& g = group_of(group);
    require_non_null(values, "values");
    if (count < 1 || count > (int64_t{1} << 24))
      throw invalid_argument("count " + std::to_string(count) + " is not in [1, 2^24]");
    at::Tensor t = at::from_blob(values, {count}, at::kDouble).clone();
    g.allreduce_sum(t);
    std::memcpy(values, t.data_ptr<double>(), static_cast<size_t>(count) * sizeof(double));
  });
}

void maml_group_free(maml_group* group) { delete group; }

}  // extern "C"
