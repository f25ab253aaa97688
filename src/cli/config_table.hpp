// The command line's view of the one table of config fields (core/config_fields.hpp): the model
// keys, their canonical JSON values, and maml_config <-> canonical JSON. Everything the CLI does
// field by field goes through here.
#pragma once

#include <mamlpp/mamlpp.h>

#include <string>

#include <nlohmann/json.hpp>

#include "core/config.hpp"

namespace mamlpp::cli {

// Calls f(const FieldInfo&, field) for every table field of a maml_config (int32_t for bools and
// enums, as the C struct holds them), in table order.
template <class C, class F>
void visit_c_fields(C& c, F&& f) {
#define MAMLPP_X(name, type, def, lo, hi, since, choices, doc)                                    \
  f(FieldInfo{#name, field_type_of<type>(), static_cast<double>(lo), static_cast<double>(hi), \
              since, choices, doc},                                                          \
    c.name);
  MAMLPP_CONFIG_FIELDS(MAMLPP_X)
#undef MAMLPP_X
}

// A field's value as the canonical JSON of config_keys.hpp: booleans true/false, enums by name,
// floats as the short decimal people write (0.1, not 0.100000001).
nlohmann::json canonical_value(const FieldInfo& f, int32_t v);
nlohmann::json canonical_value(const FieldInfo& f, float v);
nlohmann::json canonical_value(const FieldInfo& f, uint64_t v);
nlohmann::json canonical_value(const FieldInfo& f, const int32_t (&v)[kMaxHiddenLayers]);

// Every table field of c as canonical JSON, in table order.
nlohmann::json config_to_canonical(const maml_config& c);

// Sets every table field of c from a canonical object holding them (values already checked).
void config_from_canonical(const nlohmann::json& canonical, maml_config& c);

// The name of value `v` of the enum field `name` ("?" when out of range).
std::string enum_name(const char* field, int32_t v);

}  // namespace mamlpp::cli
