// The C++ view of a model's configuration, expanded from the one table of fields
// (core/config_fields.hpp). src/capi converts between it and maml_config. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "core/config_fields.hpp"

namespace mamlpp {

enum class BnStats : int32_t { Running = 0, Transductive = 1, Support = 2 };
enum class TaskBatching : int32_t { Auto = 0, Loop = 1, Batched = 2 };
enum class DeviceType : int32_t { Auto = 0, Cpu = 1, Cuda = 2 };
enum class DType : int32_t { Float32 = 0, Float64 = 1 };

struct Config {
#define MAMLPP_X(name, type, def, lo, hi, since, choices, doc) type name = def;
  MAMLPP_CONFIG_FIELDS(MAMLPP_X)
#undef MAMLPP_X
};

// What the table says about one field, for code that walks every field.
enum class FieldType { Int32, Float, Bool, UInt64, Enum };

template <class T>
constexpr FieldType field_type_of() {
  if constexpr (std::is_same_v<T, bool>) return FieldType::Bool;
  else if constexpr (std::is_same_v<T, float>) return FieldType::Float;
  else if constexpr (std::is_same_v<T, uint64_t>) return FieldType::UInt64;
  else if constexpr (std::is_enum_v<T>) return FieldType::Enum;
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

// Index of the first tensor of Layout::adapted the inner loop adapts: 0, or with adapt_last_layers = k
// the weight of the k-th layer from the end (each layer is a weight and a bias).
inline int32_t first_inner_tensor(const Config& cfg) {
  return cfg.adapt_last_layers == 0 ? 0 : 2 * (cfg.num_stages + 1 - cfg.adapt_last_layers);
}

// Number of BN rows per layer: inner_steps with per-step BN, else 1.
inline int32_t bn_rows(const Config& cfg) { return cfg.per_step_bn ? cfg.inner_steps : 1; }

}  // namespace mamlpp
