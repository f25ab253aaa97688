#include "io/config_json.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "io/strict_json.hpp"
#include "io/text.hpp"

namespace mamlpp::io {

namespace {

// The double whose shortest JSON text is the shortest decimal of f ("0.1", not
// "0.10000000149011612") and that converts back to exactly f. to_chars/from_chars ignore the
// C locale, which a host program may have changed.
double readable_double(float f) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  double d = 0.0;
  if (r.ec == std::errc() && std::from_chars(buf, r.ptr, d).ec == std::errc() &&
      static_cast<float>(d) == f)
    return d;
  return static_cast<double>(f);  // exact, only less readable
}

struct Writer {
  nlohmann::ordered_json& out;
  void operator()(const FieldInfo& f, const int32_t& v) { out[f.name] = v; }
  void operator()(const FieldInfo& f, const uint64_t& v) { out[f.name] = v; }
  void operator()(const FieldInfo& f, const bool& v) { out[f.name] = v ? 1 : 0; }
  void operator()(const FieldInfo& f, const HiddenSizes& v) { out[f.name] = hidden_sizes_list(v); }
  void operator()(const FieldInfo& f, const float& v) {
    if (!std::isfinite(v)) throw invalid_argument(std::string("config: ") + f.name + " is not finite");
    out[f.name] = readable_double(v);
  }
  template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
  void operator()(const FieldInfo& f, const E& v) {
    out[f.name] = static_cast<std::underlying_type_t<E>>(v);
  }
};

struct Reader {
  const nlohmann::json& in;
  FormatVersion version;
  std::set<std::string>& known;

  // The field's JSON value, or nullptr when a field newer than the file is absent.
  const nlohmann::json* get(const char* key, int since_minor) {
    known.insert(key);
    const auto it = in.find(key);
    if (it != in.end()) return &*it;
    if (version.major == kFormatVersion.major && since_minor > version.minor) return nullptr;
    throw format_error(std::string("config: missing field \"") + key + "\"");
  }

  static int64_t integer(const nlohmann::json& v, const char* key, int64_t lo, int64_t hi) {
    const std::string what = std::string("config: \"") + key + "\"";
    int64_t x = 0;
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(hi)) throw format_error(what + " is out of range");
      x = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
      x = v.get<int64_t>();
    } else {
      throw format_error(what + " must be an integer");
    }
    if (x < lo || x > hi) throw format_error(what + " is out of range");
    return x;
  }

  void operator()(const FieldInfo& f, int32_t& v) {
    const char* key = f.name;
    if (const auto* j = get(key, f.since))
      v = static_cast<int32_t>(integer(*j, key, std::numeric_limits<int32_t>::min(),
                                       std::numeric_limits<int32_t>::max()));
  }
  void operator()(const FieldInfo& f, bool& v) {
    const char* key = f.name;
    if (const auto* j = get(key, f.since)) v = integer(*j, key, 0, 1) == 1;
  }
  void operator()(const FieldInfo& f, HiddenSizes& v) {
    const char* key = f.name;
    const auto* j = get(key, f.since);
    if (!j) return;
    if (!j->is_array() || j->size() > v.size())
      throw format_error(std::string("config: \"") + key + "\" must be an array of at most " +
                         std::to_string(v.size()) + " integers");
    HiddenSizes out{};
    for (size_t i = 0; i < j->size(); ++i)
      out[i] = static_cast<int32_t>(integer((*j)[i], key, std::numeric_limits<int32_t>::min(),
                                            std::numeric_limits<int32_t>::max()));
    v = out;
  }
  void operator()(const FieldInfo& f, uint64_t& v) {
    const char* key = f.name;
    if (const auto* j = get(key, f.since)) {
      if (!j->is_number_unsigned())
        throw format_error(std::string("config: \"") + key +
                           "\" must be an unsigned 64-bit integer");
      v = j->get<uint64_t>();
    }
  }
  void operator()(const FieldInfo& f, float& v) {
    const char* key = f.name;
    const auto* j = get(key, f.since);
    if (!j) return;
    if (!j->is_number())
      throw format_error(std::string("config: \"") + key + "\" must be a number");
    const double d = j->get<double>();
    // The range check comes first: casting an out-of-range double to float is undefined.
    if (!std::isfinite(d) || std::fabs(d) > std::numeric_limits<float>::max())
      throw format_error(std::string("config: \"") + key + "\" is out of float range");
    v = static_cast<float>(d);
  }
  template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
  void operator()(const FieldInfo& f, E& v) {
    const char* key = f.name;
    if (const auto* j = get(key, f.since))
      v = static_cast<E>(integer(*j, key, std::numeric_limits<int32_t>::min(),
                                 std::numeric_limits<int32_t>::max()));
  }
};

}  // namespace

std::string config_to_json(const Config& cfg) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  visit_fields(cfg, Writer{out});
  return out.dump();
}

Config config_from_json(const std::string& text, FormatVersion file_version) {
  // Depth 2: a flat object whose values may be arrays of numbers (hidden_sizes).
  const nlohmann::json in =
      parse_json_strict(text.data(), text.data() + text.size(), 2, "metadata \"config\"");
  if (!in.is_object()) throw format_error("metadata \"config\" is not a JSON object");
  Config cfg;
  std::set<std::string> known;
  visit_fields(cfg, Reader{in, file_version, known});
  const bool newer_minor =
      file_version.major == kFormatVersion.major && file_version.minor > kFormatVersion.minor;
  if (!newer_minor)
    for (const auto& [key, value] : in.items()) {
      (void)value;
      if (!known.count(key))
        throw format_error("config: unexpected field " + quote(key) + " in a format " +
                           to_string(file_version) + " file");
    }
  return cfg;
}

}  // namespace mamlpp::io
