// Data-parallel MAML++ over a process group (core/distributed.hpp): what the ranks must agree on
// before they train together, and how a meta-train step's contributions travel as one buffer.
//
// Each rank adapts its own share of the meta-batch. The meta-loss is the mean over all tasks, so
// each rank sends its sums (gradient x its task count, loss and accuracy x its task count, the
// per-step BN sums, its task count) and one all-reduce gives every rank the global sums; dividing
// by the global task count gives exactly the mean one process would compute over the whole batch.
// Every rank then applies the same Adam step to the same state, so the models stay identical.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/batch_norm.hpp"
#include "core/config.hpp"
#include "core/model_state.hpp"

namespace mamlpp {

// What must be equal on every rank, one "item=value" line each: the library version, the device
// type and dtype, every config field that shapes the model or its training (all but device_index,
// num_threads and task_batching, which only say where and how a rank computes), the step counter,
// and a checksum of every tensor of the state (parameters, LSLR, BN rows, Adam moments).
std::string attach_fingerprint(const Config& cfg, at::Device device, at::ScalarType dtype, int64_t step,
                               const std::vector<NamedTensor>& state);

// Throws Error(Distributed) naming the first rank and item that differ from rank 0's. Every rank
// sees the same list, so every rank refuses with the same message. A rank at step 0 (a model
// that has not trained) may differ in its step and tensors: attaching gives it rank 0's.
void require_agreement(const std::vector<std::string>& fingerprints);

// One rank's contribution to a meta-train step, flattened: [grads..., BN sums..., loss, accuracy,
// tasks, failed] (sums, not means). A rank that failed sends zeros and failed = 1.
struct StepPacket {
  at::Tensor flat;
  std::vector<int64_t> grad_offsets;  // where each gradient starts
  int64_t bn_offset = 0;              // where the BN sums start (stage after stage: mean, var; then count)
  int64_t tail_offset = 0;            // loss, accuracy, tasks, failed
};

// The packet's layout for these parameters (and BN buffers when `running`), filled with zeros.
StepPacket empty_packet(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& running_mean,
                        bool running);
// Fills the packet with a rank's sums: its mean gradients, loss and accuracy over its `tasks`
// tasks, multiplied by `tasks` in place in the packet (no temporaries), and its BN sums.
void fill_packet(StepPacket& p, const std::vector<at::Tensor>& grads, const RunningStatSums* bn,
                 const at::Tensor& loss, const at::Tensor& accuracy, double tasks);
// The global gradient means and BN sums from a reduced packet.
std::vector<at::Tensor> packet_gradients(const StepPacket& p, const std::vector<at::Tensor>& params, double tasks);
RunningStatSums packet_bn_sums(const StepPacket& p, const std::vector<at::Tensor>& running_mean);

}  // namespace mamlpp
