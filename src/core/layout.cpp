#include "core/layout.hpp"

namespace mamlpp {

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Layout make_layout(const Config& c) {
  Layout l;
  const int64_t rows = bn_rows(c);
  // One body layer: its adapted weight and bias, its BN row tensors over `width` channels.
  auto body_layer = [&](const std::string& name, const std::string& op, std::vector<int64_t> weight_shape) {
    const int64_t width = weight_shape.front();
    l.adapted.push_back({"backbone." + name + "." + op + ".weight", std::move(weight_shape)});
    l.adapted.push_back({"backbone." + name + "." + op + ".bias", {width}});
    if (!c.batch_norm) return;
    l.bn_affine.push_back({"bn." + name + ".gamma", {rows, width}});
    l.bn_affine.push_back({"bn." + name + ".beta", {rows, width}});
    l.bn_running.push_back({"bn." + name + ".running_mean", {rows, width}});
    l.bn_running.push_back({"bn." + name + ".running_var", {rows, width}});
  };
  if (c.backbone == Backbone::Mlp) {
    int64_t in = c.input_features;
    for (int32_t k = 0; k < c.hidden_layers; ++k) {
      const int64_t h = c.hidden_sizes[static_cast<size_t>(k)];
      body_layer("layer" + std::to_string(k), "linear", {h, in});
      in = h;
    }
    l.feature_size = in;
  } else {
    const int64_t f = c.num_filters;
    int64_t in_ch = c.image_channels;
    for (int32_t s = 0; s < c.num_stages; ++s) {
      body_layer("stage" + std::to_string(s), "conv", {f, in_ch, 3, 3});
      in_ch = f;
    }
    // Max-pool keeps the spatial map and flattens it; the strided variant average-pools it away.
    l.feature_size = c.max_pool ? f * spatial_after_stages(c, c.image_height) * spatial_after_stages(c, c.image_width)
                                : f;
  }
  l.adapted.push_back({"backbone.head.weight", {head_outputs(c), l.feature_size}});
  l.adapted.push_back({"backbone.head.bias", {head_outputs(c)}});
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
