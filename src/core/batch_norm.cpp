#include "core/batch_norm.hpp"

#include <map>

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
  const int64_t f = layer.gamma.numel();
  const at::Tensor gamma = tile(layer.gamma, tasks, f);
  const at::Tensor beta = tile(layer.beta, tasks, f);
  at::Tensor out;
  switch (spec.mode) {
    case BnMode::Batch:
      out = at::batch_norm(h, gamma, beta, {}, {}, /*training=*/true, kBnMomentum, kBnEps,
                           /*cudnn_enabled=*/true);
      break;
    case BnMode::Given:
      out = at::batch_norm(h, gamma, beta, tile(layer.mean, tasks, f), tile(layer.var, tasks, f),
                           /*training=*/false, kBnMomentum, kBnEps, /*cudnn_enabled=*/true);
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

void running_stats_after(const MetaParams& meta, const std::vector<RowObservation>& observations,
                         std::vector<at::Tensor>& means_out, std::vector<at::Tensor>& vars_out) {
  at::NoGradGuard no_grad;
  for (size_t s = 0; s < meta.running_mean.size(); ++s) {
    means_out.push_back(meta.running_mean[s].clone());
    vars_out.push_back(meta.running_var[s].clone());
  }
  std::map<int64_t, std::vector<const BnObservation*>> by_row;
  for (const RowObservation& o : observations) by_row[o.row].push_back(&o.stats);
  for (const auto& [row, list] : by_row) {
    for (size_t s = 0; s < means_out.size(); ++s) {
      std::vector<at::Tensor> means, vars;
      for (const BnObservation* o : list) {
        const double n = static_cast<double>(o->count[s]);
        means.push_back(o->mean[s]);
        vars.push_back(o->var[s] * (n > 1.0 ? n / (n - 1.0) : 1.0));  // unbiased, as BN does
      }
      means_out[s].select(0, row).mul_(1.0 - kBnMomentum).add_(at::cat(means).mean(0), kBnMomentum);
      vars_out[s].select(0, row).mul_(1.0 - kBnMomentum).add_(at::cat(vars).mean(0), kBnMomentum);
    }
  }
}

}  // namespace mamlpp
