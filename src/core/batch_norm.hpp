// Per-step batch norm (MAML++'s BNRS + BNWB), in one place: the rows (one gamma, beta and pair of
// running statistics per inner step), how a forward pass obtains its statistics (the batch's own,
// given ones, or the support set's applied to the query), what a pass observes, and the momentum
// update of the running statistics.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "core/config.hpp"

namespace mamlpp {

struct MetaParams;

constexpr double kBnEps = 1e-5;
constexpr double kBnMomentum = 0.1;

// The BN row a (0-based) inner step uses: its own with per-step BN, else the single shared one;
// evaluation steps beyond inner_steps reuse the last row. (bn_rows() is in core/config.hpp.)
inline int64_t bn_row(const Config& cfg, int64_t step) {
  const int64_t rows = bn_rows(cfg);
  return step < rows ? step : rows - 1;
}

// How a batch-norm layer obtains its normalisation statistics in one forward pass.
enum class BnMode {
  Batch,      // statistics of the batch itself (training; transductive evaluation)
  Given,      // statistics supplied by the caller (running statistics; a learner's support stats)
  Reference,  // statistics of the first `reference_rows` examples, applied to all (support stats)
  Folded,     // none: given statistics already folded into the convolution (Learner's predictions)
};

// One BN layer's affine row and, for BnMode::Given, its statistics. gamma/beta are [F] (shared by
// all tasks); mean/var are [F] (shared) or [T*F] (per task).
struct BnLayer {
  at::Tensor gamma, beta, mean, var;
};

// Batch statistics observed during a forward pass, detached: per stage mean and biased variance,
// [T, F] each, over `count` values per channel.
struct BnObservation {
  std::vector<at::Tensor> mean, var;
  std::vector<int64_t> count;
};

// A BN observation and the BN row it belongs to.
struct RowObservation {
  int64_t row;
  BnObservation stats;
};

struct BnSpec {
  BnMode mode = BnMode::Batch;
  std::vector<BnLayer> layers;       // one per stage
  int64_t reference_rows = 0;        // BnMode::Reference
  BnObservation* observe = nullptr;  // when set, record the statistics each stage used
};

// The BN layers of row `row` in a given mode, built from the meta-parameters (running statistics
// attached when mode is Given). detach: cut gamma/beta from the meta-parameters' graph.
BnSpec bn_spec(const MetaParams& meta, int64_t row, BnMode mode, bool detach);

// Normalises h [n, T*F, H, W] (T tasks folded into channels) with layer `layer` of `spec`, and
// records what it used when spec.observe is set.
at::Tensor batch_norm(const at::Tensor& h, const BnLayer& layer, const BnSpec& spec, int64_t tasks);

// BNRS, in two halves so that several processes can pool what they observed. The sums: per
// stage, for every BN row, the sum over every task and pass of a meta-train step of the observed
// batch means and of the unbiased batch variances ([bn_rows, F] each), and how many tasks x passes
// each row saw ([bn_rows]). Sums of several processes add up to the sums of their union.
struct RunningStatSums {
  std::vector<at::Tensor> mean, var;  // per stage, [bn_rows, F]
  at::Tensor count;                   // [bn_rows]
};
RunningStatSums running_stat_sums(const MetaParams& meta, const std::vector<RowObservation>& observations);

// The running statistics after one momentum update per BN row and stage with the mean of the
// observations the sums hold (rows that saw none are unchanged), so the result does not depend on
// the order tasks ran in (loop or batched) or on how they were spread over processes. Writes
// copies to means_out/vars_out (per stage); `meta` is unchanged, so a step can compute its whole
// update aside and commit it at once.
void running_stats_after(const MetaParams& meta, const RunningStatSums& sums, std::vector<at::Tensor>& means_out,
                         std::vector<at::Tensor>& vars_out);

}  // namespace mamlpp
