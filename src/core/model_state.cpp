#include "core/model_state.hpp"

#include <map>

#include "common/error.hpp"
#include "core/layout.hpp"

namespace mamlpp {

namespace {

// The meta-parameters in meta_parameters() order with the LSLR table split into its rows; `table`
// is what Adam holds for the table (the table itself, or a moment shaped like it).
void push_meta_parameters(const Config& cfg, const std::vector<at::Tensor>& trainable,
                          std::vector<at::Tensor>& out) {
  const size_t plain = trainable.size() - (cfg.learn_inner_lr ? 1 : 0);
  out.insert(out.end(), trainable.begin(), trainable.begin() + static_cast<std::ptrdiff_t>(plain));
  if (cfg.learn_inner_lr)
    for (int64_t r = 0; r < trainable.back().size(0); ++r) out.push_back(trainable.back().select(0, r));
}

}  // namespace

std::vector<at::Tensor> state_views(const Config& cfg, const MetaParams& p, const AdamState* adam) {
  std::vector<at::Tensor> out = p.weights;
  for (size_t s = 0; s < p.gamma.size(); ++s) {
    out.push_back(p.gamma[s]);
    out.push_back(p.beta[s]);
  }
  for (size_t s = 0; s < p.running_mean.size(); ++s) {
    out.push_back(p.running_mean[s]);
    out.push_back(p.running_var[s]);
  }
  for (int64_t r = 0; r < p.lslr.size(0); ++r) out.push_back(p.lslr.select(0, r));
  if (adam != nullptr) {
    push_meta_parameters(cfg, adam->m, out);
    push_meta_parameters(cfg, adam->v, out);
  }
  return out;
}

std::vector<NamedTensor> export_state(const Config& cfg, const MetaParams& params, const AdamState* adam) {
  const std::vector<TensorSpec> specs = file_tensors(cfg, adam != nullptr);
  const std::vector<at::Tensor> views = state_views(cfg, params, adam);
  if (specs.size() != views.size()) throw Error(ErrorKind::Internal, "model state does not match its layout");
  std::vector<NamedTensor> out;
  out.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i)
    out.push_back({specs[i].name, views[i].detach().to(at::kCPU).contiguous().clone()});
  return out;
}

void import_state(const Config& cfg, const std::vector<NamedTensor>& tensors, MetaParams& params,
                  AdamState* adam) {
  std::map<std::string, const at::Tensor*> by_name;
  for (const NamedTensor& t : tensors) by_name[t.name] = &t.tensor;
  const std::vector<TensorSpec> specs = file_tensors(cfg, adam != nullptr);
  std::vector<const at::Tensor*> sources;
  for (const TensorSpec& spec : specs) {
    const auto it = by_name.find(spec.name);
    if (it == by_name.end()) throw format_error("missing tensor '" + spec.name + "'");
    if (it->second->sizes().vec() != spec.shape)
      throw format_error("tensor '" + spec.name + "' has the wrong shape");
    sources.push_back(it->second);
  }
  at::NoGradGuard no_grad;
  const std::vector<at::Tensor> views = state_views(cfg, params, adam);
  for (size_t i = 0; i < views.size(); ++i) views[i].copy_(*sources[i]);
}

}  // namespace mamlpp
