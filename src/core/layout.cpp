#include "core/layout.hpp"

namespace mamlpp {

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Layout make_layout(const Config& c) {
  Layout l;
  const int64_t f = c.num_filters;
  const int64_t rows = bn_rows(c);
  int64_t in_ch = c.image_channels;
  for (int32_t s = 0; s < c.num_stages; ++s) {
    const std::string stage = "stage" + std::to_string(s);
    l.adapted.push_back({"backbone." + stage + ".conv.weight", {f, in_ch, 3, 3}});
    l.adapted.push_back({"backbone." + stage + ".conv.bias", {f}});
    l.bn_affine.push_back({"bn." + stage + ".gamma", {rows, f}});
    l.bn_affine.push_back({"bn." + stage + ".beta", {rows, f}});
    l.bn_running.push_back({"bn." + stage + ".running_mean", {rows, f}});
    l.bn_running.push_back({"bn." + stage + ".running_var", {rows, f}});
    in_ch = f;
  }
  // Max-pool keeps the spatial map and flattens it; the strided variant average-pools it away.
  l.feature_size = c.max_pool ? f * spatial_after_stages(c, c.image_height) *
                                    spatial_after_stages(c, c.image_width)
                              : f;
  l.adapted.push_back({"backbone.head.weight", {c.n_way, l.feature_size}});
  l.adapted.push_back({"backbone.head.bias", {c.n_way}});
  // Inner rates only for the tensors the inner loop adapts (adapt_last_layers).
  for (size_t k = static_cast<size_t>(first_inner_tensor(c)); k < l.adapted.size(); ++k)
    l.lslr.push_back({"lslr." + l.adapted[k].name, {c.inner_steps}});
  return l;
}

std::vector<TensorSpec> Layout::meta_parameters(const Config& cfg) const {
  std::vector<TensorSpec> out = adapted;
  out.insert(out.end(), bn_affine.begin(), bn_affine.end());
  if (cfg.learn_inner_lr) out.insert(out.end(), lslr.begin(), lslr.end());
  return out;
}

std::vector<TensorSpec> file_tensors(const Config& cfg, bool with_optimizer) {
  const Layout layout = make_layout(cfg);
  std::vector<TensorSpec> out;
  for (const auto* group : {&layout.adapted, &layout.bn_affine, &layout.bn_running, &layout.lslr})
    out.insert(out.end(), group->begin(), group->end());
  if (with_optimizer) {
    const std::vector<TensorSpec> params = layout.meta_parameters(cfg);
    for (const TensorSpec& p : params) out.push_back({adam_m_name(p.name), p.shape});
    for (const TensorSpec& p : params) out.push_back({adam_v_name(p.name), p.shape});
  }
  return out;
}

}  // namespace mamlpp
