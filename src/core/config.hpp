// The C++ view of a model's configuration, expanded from the one table of fields
// (core/config_fields.hpp). src/capi converts between it and maml_config. Torch-free.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>
#include <type_traits>

#include "core/config_fields.hpp"

namespace mamlpp {

enum class BnStats : int32_t { Running = 0, Transductive = 1, Support = 2 };
enum class TaskBatching : int32_t { Auto = 0, Loop = 1, Batched = 2 };
enum class DeviceType : int32_t { Auto = 0, Cpu = 1, Cuda = 2 };
enum class DType : int32_t { Float32 = 0, Float64 = 1 };
enum class Backbone : int32_t { Conv = 0, Mlp = 1 };
enum class Activation : int32_t { LeakyRelu = 0, Relu = 1 };
enum class TaskKind : int32_t { Classification = 0, Regression = 1 };

// The MLP's hidden sizes: a fixed array (maml_config holds int32_t[8]) used up to hidden_layers.
constexpr int32_t kMaxHiddenLayers = 8;
using HiddenSizes = std::array<int32_t, kMaxHiddenLayers>;
// The MAML paper's sinusoid network: two hidden layers of 40 units.
constexpr HiddenSizes kDefaultHiddenSizes{40, 40, 0, 0, 0, 0, 0, 0};

struct Config {
#define MAMLPP_X(name, type, def, lo, hi, since, choices, doc) type name = def;
  MAMLPP_CONFIG_FIELDS(MAMLPP_X)
#undef MAMLPP_X
};

// What the table says about one field, for code that walks every field.
enum class FieldType { Int32, Float, Bool, UInt64, Enum, Int32Array };

template <class T>
constexpr FieldType field_type_of() {
  if constexpr (std::is_same_v<T, bool>) return FieldType::Bool;
  else if constexpr (std::is_same_v<T, float>) return FieldType::Float;
  else if constexpr (std::is_same_v<T, uint64_t>) return FieldType::UInt64;
  else if constexpr (std::is_enum_v<T>) return FieldType::Enum;
  else if constexpr (std::is_same_v<T, HiddenSizes>) return FieldType::Int32Array;
  else return FieldType::Int32;
}

struct FieldInfo {
  const char* name;
  FieldType type;
  double min, max;     // Int32, Float
  int since;           // format (and ABI) minor version that added the field
  const char* choices; // Enum: "a|b|c"
  const char* doc;
};

// A HiddenSizes value as the list people write: its entries up to the last non-zero one ("40,40"
// as text; [40, 40] in JSON, where a shorter list is padded with zeros).
std::vector<int32_t> hidden_sizes_list(const HiddenSizes& v);
std::string hidden_sizes_text(const HiddenSizes& v);
// Parses "40,40" (1 to kMaxHiddenLayers integers separated by commas); false with a reason.
bool parse_hidden_sizes(const std::string& text, HiddenSizes& out, std::string& why);

// The name of value `index` of an Enum field ("" when out of range), and the number of values.
std::string choice_name(const FieldInfo& field, int32_t index);
int32_t choice_count(const FieldInfo& field);
// The index of `name` among the field's choices, or -1.
int32_t choice_index(const FieldInfo& field, const std::string& name);

// Calls f(const FieldInfo&, field) for every field of cfg (Config or const Config), in table order.
template <class C, class F>
void visit_fields(C& cfg, F&& f) {
#define MAMLPP_X(name, type, def, lo, hi, since, choices, doc)                                    \
  f(FieldInfo{#name, field_type_of<type>(), static_cast<double>(lo), static_cast<double>(hi), \
              since, choices, doc},                                                          \
    cfg.name);
  MAMLPP_CONFIG_FIELDS(MAMLPP_X)
#undef MAMLPP_X
}

// The table's name of a config enum value: to_string(BnStats::Support) == "support".
template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
std::string to_string(E value) {
  std::string out;
  const Config c;
  visit_fields(c, [&](const FieldInfo& f, const auto& v) {
    if constexpr (std::is_same_v<std::decay_t<decltype(v)>, E>)
      out = choice_name(f, static_cast<int32_t>(value));
  });
  return out;
}

// Throws Error(InvalidArgument) naming the first field that makes no sense: out of the table's
// range, not finite, or inconsistent with another field (an image too small for the stages, a
// model too large for memory).
void validate(const Config& cfg);

// Spatial size after the backbone's stages (max-pool: floor(x/2) per stage; strided: ceil(x/2)).
int64_t spatial_after_stages(const Config& cfg, int64_t size);

// The layers before the head, each a weight, a bias and a BN layer: conv stages or hidden layers.
inline int32_t body_layers(const Config& cfg) {
  return cfg.backbone == Backbone::Mlp ? cfg.hidden_layers : cfg.num_stages;
}

// The width of the head, and of every prediction row: classes or regression outputs.
inline int32_t head_outputs(const Config& cfg) {
  return cfg.task_kind == TaskKind::Regression ? cfg.n_outputs : cfg.n_way;
}

// The shape of one example: {C, H, W} images for the conv backbone, {D} vectors for the MLP.
std::vector<int64_t> example_shape(const Config& cfg);
// Floats per example (the product of example_shape).
int64_t example_numel(const Config& cfg);

// Index of the first tensor of Layout::adapted the inner loop adapts: 0, or with adapt_last_layers = k
// the weight of the k-th layer from the end (each layer is a weight and a bias).
inline int32_t first_inner_tensor(const Config& cfg) {
  return cfg.adapt_last_layers == 0 ? 0 : 2 * (body_layers(cfg) + 1 - cfg.adapt_last_layers);
}

// Number of BN rows per layer: inner_steps with per-step BN, else 1.
inline int32_t bn_rows(const Config& cfg) { return cfg.per_step_bn ? cfg.inner_steps : 1; }

}  // namespace mamlpp
