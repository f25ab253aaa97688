#include "capi/config_convert.hpp"

#include <cstring>
#include <string>
#include <type_traits>

#include "capi/boundary.hpp"
#include "common/error.hpp"

namespace mamlpp::capi {

namespace {

// Every row of the table names a field of maml_config of the C type its Config type maps to.
template <class T>
using c_type_t = std::conditional_t<std::is_same_v<T, bool> || std::is_enum_v<T>, int32_t,
                                    std::conditional_t<std::is_same_v<T, HiddenSizes>, int32_t[kMaxHiddenLayers], T>>;
#define MAMLPP_X(name, type, def, lo, hi, since, choices, doc)                        \
  static_assert(std::is_same_v<decltype(maml_config::name), c_type_t<type>>,          \
                "maml_config." #name " does not have the type core/config_fields.hpp says");
MAMLPP_CONFIG_FIELDS(MAMLPP_X)
#undef MAMLPP_X

template <class T>
T from_c_field(const c_type_t<T>& v, const char* name) {
  if constexpr (std::is_same_v<T, HiddenSizes>) {
    (void)name;
    HiddenSizes out{};
    std::memcpy(out.data(), v, sizeof out);
    return out;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (v != 0 && v != 1)
      throw invalid_argument(std::string("invalid config: ") + name + " must be 0 or 1, got " +
                             std::to_string(v));
    return v == 1;
  } else if constexpr (std::is_enum_v<T>) {
    return static_cast<T>(v);  // range checked by validate()
  } else {
    (void)name;
    return v;
  }
}

template <class T>
void to_c_field(const T& v, c_type_t<T>& out) {
  if constexpr (std::is_same_v<T, HiddenSizes>) std::memcpy(out, v.data(), sizeof out);
  else if constexpr (std::is_same_v<T, bool>) out = v ? 1 : 0;
  else if constexpr (std::is_enum_v<T>) out = static_cast<int32_t>(v);
  else out = v;
}

maml_config to_c(const Config& o) {
  maml_config c{};
  c.struct_size = sizeof(maml_config);
#define MAMLPP_X(name, type, def, lo, hi, since, choices, doc) to_c_field<type>(o.name, c.name);
  MAMLPP_CONFIG_FIELDS(MAMLPP_X)
#undef MAMLPP_X
  return c;
}

}  // namespace

void init_config(maml_config* cfg, uint32_t size) {
  if (cfg == nullptr) throw invalid_argument("cfg must not be NULL");
  if (size < kConfigV1Size)
    throw invalid_argument("struct_size " + std::to_string(size) + " is smaller than maml_config 1.0 (" +
                           std::to_string(kConfigV1Size) + " bytes)");
  const maml_config c = to_c(Config{});
  std::memset(cfg, 0, size);
  std::memcpy(cfg, &c, size < sizeof(c) ? size : sizeof(c));
  cfg->struct_size = size;
}

Config read_config(const maml_config* cfg, const char* arg) {
  const maml_config c = read_sized_struct(cfg, to_c(Config{}), kConfigV1Size, arg, "maml_config");
  if (c.reserved0 != 0 || c.reserved1 != 0 || c.reserved3 != 0)
    throw unsupported(std::string(arg) + " sets a reserved field this libmamlpp " MAMLPP_VERSION_STRING
                      " does not know (reserved0, reserved1 and reserved3 must be 0); upgrade the library");
  Config o;
#define MAMLPP_X(name, type, def, lo, hi, since, choices, doc) o.name = from_c_field<type>(c.name, #name);
  MAMLPP_CONFIG_FIELDS(MAMLPP_X)
#undef MAMLPP_X
  return o;
}

void write_config(const Config& config, maml_config* out) {
  if (out == nullptr) throw invalid_argument("out must not be NULL");
  const uint32_t size = out->struct_size;
  if (size < kConfigV1Size)
    throw invalid_argument("out->struct_size is " + std::to_string(size) +
                           ", expected at least " + std::to_string(kConfigV1Size) +
                           " (set it to sizeof(maml_config))");
  const maml_config c = to_c(config);
  std::memset(out, 0, size);
  std::memcpy(out, &c, size < sizeof(c) ? size : sizeof(c));
  out->struct_size = size;
}

}  // namespace mamlpp::capi
