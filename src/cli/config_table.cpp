#include "cli/config_table.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <sstream>

namespace mamlpp::cli {

using json = nlohmann::json;

json canonical_value(const FieldInfo& f, int32_t v) {
  switch (f.type) {
    case FieldType::Bool: return v != 0;
    case FieldType::Enum: return choice_name(f, v);
    default: return v;
  }
}

json canonical_value(const FieldInfo&, float v) {
  std::ostringstream o;
  o.precision(7);
  o << static_cast<double>(v);
  return std::stod(o.str());
}

json canonical_value(const FieldInfo&, uint64_t v) { return v; }

json canonical_value(const FieldInfo&, const int32_t (&v)[kMaxHiddenLayers]) {
  HiddenSizes a{};
  std::copy(std::begin(v), std::end(v), a.begin());
  return hidden_sizes_list(a);
}

json config_to_canonical(const maml_config& c) {
  json out = json::object();
  visit_c_fields(c, [&](const FieldInfo& f, const auto& v) { out[f.name] = canonical_value(f, v); });
  return out;
}

void config_from_canonical(const json& canonical, maml_config& c) {
  visit_c_fields(c, [&](const FieldInfo& f, auto& v) {
    using T = std::remove_reference_t<decltype(v)>;  // int32_t[8] stays an array
    const json& j = canonical.at(f.name);
    if constexpr (std::is_array_v<T>) {
      std::fill(std::begin(v), std::end(v), 0);
      for (size_t i = 0; i < j.size() && i < std::size(v); ++i) v[i] = j[i].get<int32_t>();
    } else if constexpr (std::is_same_v<T, int32_t>) {
      if (f.type == FieldType::Bool) v = j.get<bool>() ? 1 : 0;
      else if (f.type == FieldType::Enum) v = choice_index(f, j.get<std::string>());
      else v = j.get<int32_t>();
    } else {
      v = j.get<T>();
    }
  });
}

std::string enum_name(const char* field, int32_t v) {
  std::string out = "?";
  maml_config c{};
  visit_c_fields(c, [&](const FieldInfo& f, const auto&) {
    if (std::strcmp(f.name, field) == 0 && f.type == FieldType::Enum) {
      const std::string n = choice_name(f, v);
      if (!n.empty()) out = n;
    }
  });
  return out;
}

}  // namespace mamlpp::cli
