#include "core/batch_norm.hpp"

#include "core/bn_op.hpp"
#include "core/meta_params.hpp"

namespace mamlpp {

BnSpec bn_spec(const MetaParams& meta, int64_t row, BnMode mode, bool detach) {
  BnSpec spec;
  spec.mode = mode;
  for (size_t s = 0; s < meta.gamma.size(); ++s) {
    BnLayer layer;
    layer.gamma = meta.gamma[s].select(0, row);
    layer.beta = meta.beta[s].select(0, row);
    if (detach) {
      layer.gamma = layer.gamma.detach();
      layer.beta = layer.beta.detach();
    }
    if (mode == BnMode::Given) {
      layer.mean = meta.running_mean[s].select(0, row);
      layer.var = meta.running_var[s].select(0, row);
    }
    spec.layers.push_back(std::move(layer));
  }
  return spec;
}

namespace {

// A [F] tensor shared by all tasks becomes [T*F] in the task-folded channel layout; a [T*F]
// tensor (per-task statistics) is already there.
at::Tensor tile(const at::Tensor& t, int64_t tasks, int64_t channels) {
  if (!t.defined()) return t;
  return t.numel() == channels ? (tasks == 1 ? t : t.repeat({tasks})) : t;
}

}  // namespace

at::Tensor batch_norm(const at::Tensor& h, const BnLayer& layer, const BnSpec& spec, int64_t tasks) {
  if (spec.mode == BnMode::Folded) return h;
  const int64_t f = layer.gamma.numel();
  const at::Tensor gamma = tile(layer.gamma, tasks, f);
  const at::Tensor beta = tile(layer.beta, tasks, f);
  at::Tensor out;
  // On the CPU, batch statistics (the whole batch's or the reference rows') go through the fused
  // op, whose second derivative is one pass instead of LibTorch's forty-odd operators
  // (docs/DECISIONS.md, "CPU speed").
  if (spec.mode != BnMode::Given && batch_norm_op_applies(h)) {
    const int64_t rows = spec.mode == BnMode::Batch ? h.size(0) : spec.reference_rows;
    out = batch_norm_op(h, gamma, beta, rows, kBnEps);
  } else switch (spec.mode) {
    case BnMode::Folded:  // returned above
      out = h;
      break;
    case BnMode::Given:
      out = at::batch_norm(h, gamma, beta, tile(layer.mean, tasks, f), tile(layer.var, tasks, f),
                           /*training=*/false, kBnMomentum, kBnEps, /*cudnn_enabled=*/true);
      break;
    case BnMode::Batch:
      out = at::batch_norm(h, gamma, beta, {}, {}, /*training=*/true, kBnMomentum, kBnEps,
                           /*cudnn_enabled=*/true);
      break;
    case BnMode::Reference: {
      // Statistics of the leading rows (the support set), applied to every row.
      const at::Tensor ref = h.narrow(0, 0, spec.reference_rows);
      const at::Tensor mean = ref.mean({0, 2, 3}, /*keepdim=*/true);
      const at::Tensor var = (ref - mean).pow(2).mean({0, 2, 3}, /*keepdim=*/true);
      out = (h - mean) * at::rsqrt(var + kBnEps) * gamma.view({1, -1, 1, 1}) +
            beta.view({1, -1, 1, 1});
      break;
    }
  }
  if (spec.observe != nullptr) {
    const at::Tensor src = spec.mode == BnMode::Reference ? h.narrow(0, 0, spec.reference_rows) : h;
    at::NoGradGuard no_grad;
    const at::Tensor d = src.detach();
    const at::Tensor mean = d.mean({0, 2, 3});
    const at::Tensor var = (d - mean.view({1, -1, 1, 1})).pow(2).mean({0, 2, 3});
    spec.observe->mean.push_back(mean.view({tasks, f}));
    spec.observe->var.push_back(var.view({tasks, f}));
    spec.observe->count.push_back(d.size(0) * d.size(2) * d.size(3));
  }
  return out;
}

RunningStatSums running_stat_sums(const MetaParams& meta, const std::vector<RowObservation>& observations) {
  at::NoGradGuard no_grad;
  RunningStatSums sums;
  for (size_t s = 0; s < meta.running_mean.size(); ++s) {
    sums.mean.push_back(at::zeros_like(meta.running_mean[s]));
    sums.var.push_back(at::zeros_like(meta.running_var[s]));
  }
  if (sums.mean.empty()) return sums;
  const int64_t rows = sums.mean.front().size(0);
  std::vector<double> count(static_cast<size_t>(rows), 0.0);
  for (const RowObservation& o : observations) {
    for (size_t s = 0; s < sums.mean.size(); ++s) {
      const double n = static_cast<double>(o.stats.count[s]);
      sums.mean[s].select(0, o.row).add_(o.stats.mean[s].sum(0));
      sums.var[s].select(0, o.row).add_(o.stats.var[s].sum(0), n > 1.0 ? n / (n - 1.0) : 1.0);  // unbiased, as BN does
    }
    count[static_cast<size_t>(o.row)] += static_cast<double>(o.stats.mean.front().size(0));
  }
  sums.count = at::tensor(count, at::TensorOptions().dtype(at::kDouble))
                   .to(sums.mean.front().device(), sums.mean.front().scalar_type());
  return sums;
}

void running_stats_after(const MetaParams& meta, const RunningStatSums& sums, std::vector<at::Tensor>& means_out,
                         std::vector<at::Tensor>& vars_out) {
  at::NoGradGuard no_grad;
  if (sums.mean.empty()) return;
  // Rows that observed nothing keep their statistics: weight 0 for them, the momentum otherwise.
  const at::Tensor seen = sums.count.gt(0).to(sums.count.scalar_type());
  const at::Tensor momentum = (seen * kBnMomentum).unsqueeze(1);
  const at::Tensor denominator = sums.count.clamp_min(1).unsqueeze(1);
  for (size_t s = 0; s < meta.running_mean.size(); ++s) {
    means_out.push_back(meta.running_mean[s] * (1 - momentum) + (sums.mean[s] / denominator) * momentum);
    vars_out.push_back(meta.running_var[s] * (1 - momentum) + (sums.var[s] / denominator) * momentum);
  }
}

}  // namespace mamlpp
