// Scale-out on PyTorch's own distributed runtime, c10d: a process group joined through a TCPStore
// rendezvous (the one torchrun's MASTER_ADDR/MASTER_PORT name), Gloo for CPU tensors and NCCL for
// CUDA tensors, and the few collectives a data-parallel meta-train step needs. The c10d headers
// stay in distributed.cpp; this header is ATen-only.
//
// Every call here is collective: each rank of the group makes the same calls in the same order.
// A collective that fails (a peer died, the network broke, the timeout passed) marks the group
// broken: every later call refuses at once, so nothing waits on a group that cannot work again.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace mamlpp {

struct GroupOptions {
  std::string master_addr;  // the rendezvous host (rank 0 serves the store there)
  int32_t master_port = 0;
  int32_t rank = 0;
  int32_t world_size = 1;
  int32_t local_rank = 0;          // this rank's index on its machine (picks the GPU)
  double timeout_seconds = 300.0;  // rendezvous and every collective
};

constexpr double kDefaultGroupTimeoutSeconds = 300.0;

// The options torchrun's environment describes: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT and
// LOCAL_RANK (default: RANK). Throws Error(InvalidArgument) naming a missing or malformed variable.
GroupOptions group_options_from_env(double timeout_seconds);

// Throws Error(InvalidArgument) naming the first option out of range.
void check_group_options(const GroupOptions& o);

// Empty when this build can join groups; otherwise why not (the LibTorch lacks c10d or Gloo).
std::string distributed_unavailable_reason();

// A peer that dies leaves its sockets reset, and the next write to one raises SIGPIPE, whose
// default action ends the whole process before Gloo or the store sees EPIPE. Python hosts ignore
// SIGPIPE; a C host need not. So every Group call blocks SIGPIPE in the calling thread while it
// works, and the threads that Gloo, NCCL and the store start meanwhile inherit the blocked mask
// for good; a SIGPIPE this thread raised meanwhile is discarded before the mask is restored. A
// thread that already blocks SIGPIPE is left as it is. Not copyable; one per scope.
class SigpipeBlocked {
 public:
  SigpipeBlocked();
  ~SigpipeBlocked();
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  bool changed_ = false;       // this guard blocked SIGPIPE (it was not blocked before)
  bool was_pending_ = false;   // a SIGPIPE was already pending: not ours to discard
};

class Group {
 public:
  // Joins (collectively): rank 0 serves the TCPStore at master_addr:master_port, every rank
  // connects to it, and a Gloo group forms over it. Returns when all world_size ranks have joined;
  // throws Error(Distributed) after timeout_seconds otherwise.
  static std::shared_ptr<Group> join(const GroupOptions& options);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int32_t rank() const;
  int32_t world_size() const;
  int32_t local_rank() const;
  double timeout_seconds() const;

  // Sums `t` (contiguous, float or double) over the ranks, in place: Gloo for a CPU tensor, NCCL
  // (created on first use for that device) for a CUDA tensor.
  void allreduce_sum(at::Tensor& t);
  // Replaces `t` with rank `root`'s, in place.
  void broadcast(at::Tensor& t, int32_t root);
  // Every rank's `mine`, in rank order, through the store (for checks that name what differs).
  std::vector<std::string> all_gather_text(const std::string& mine);

 private:
  struct Impl;
  explicit Group(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mamlpp
