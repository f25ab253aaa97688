// The names and shapes of every tensor a model holds, derived from its config alone. The backbone
// builds its parameters from this, and the file reader validates files against it, so the two can
// never disagree. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace mamlpp {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t numel() const;
};

struct Layout {
  // The network's weights, in this order: stage0 conv weight, stage0 conv bias, ..., head weight,
  // head bias (2 * body_layers + 2 tensors; the MLP's layers are "layer<k>.linear" [h, in]). The inner loop adapts them from index
  // first_inner_tensor(cfg) on: all of them, or with adapt_last_layers only the last layers.
  std::vector<TensorSpec> adapted;
  // Learned by the outer loop only: per body layer gamma then beta, each [bn_rows, width].
  std::vector<TensorSpec> bn_affine;
  // Buffers, not learned: per body layer running_mean then running_var, each [bn_rows, width].
  std::vector<TensorSpec> bn_running;
  // One inner-rate row per tensor the inner loop adapts: "lslr.<adapted name>", [inner_steps].
  std::vector<TensorSpec> lslr;
  int64_t feature_size = 0;  // inputs of the linear head

  // Every meta-parameter Adam updates, in Adam's order: adapted, bn_affine, then lslr when
  // learn_inner_lr is on.
  std::vector<TensorSpec> meta_parameters(const Config& cfg) const;
};

Layout make_layout(const Config& cfg);

// Every tensor a model file holds, in file order: adapted, bn_affine, bn_running, lslr, then with
// the optimizer Adam's first moments ("adam.m.<name>") and second moments ("adam.v.<name>") of
// every meta-parameter in meta_parameters() order. The one definition of that order: src/io
// validates files against it and core/model_state.hpp maps it onto a live model.
std::vector<TensorSpec> file_tensors(const Config& cfg, bool with_optimizer);

// The most backbone stages a valid config has (validate() refuses more). Every count derived
// from the layout (tensors in a file, for one) is bounded through it.
constexpr int32_t kMaxLayoutStages = 16;

// Prefixes of the Adam moment tensors in files: "adam.m.<name>", "adam.v.<name>".
inline std::string adam_m_name(const std::string& param) { return "adam.m." + param; }
inline std::string adam_v_name(const std::string& param) { return "adam.v." + param; }

}  // namespace mamlpp
