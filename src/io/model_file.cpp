#include "io/model_file.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include "common/error.hpp"
#include "common/version.hpp"
#include "io/config_json.hpp"
#include "io/file.hpp"
#include "io/format_version.hpp"
#include "io/safetensors.hpp"
#include "io/text.hpp"

namespace mamlpp::io {

namespace {

constexpr const char* kFormatName = "libmamlpp";

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Up to a few names for a message: "'a', 'b' and 3 more".
std::string name_list(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 4;
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i) s += (i ? ", " : "") + quote(names[i]);
  if (names.size() > kShown) s += " and " + std::to_string(names.size() - kShown) + " more";
  return s;
}

// Values that can only come from corruption: they make every prediction NaN.
bool must_be_nonnegative(const std::string& name) {
  const std::string var = ".running_var";
  return name.rfind("adam.v.", 0) == 0 ||
         (name.size() >= var.size() && name.compare(name.size() - var.size(), var.size(), var) == 0);
}

double load_element(const uint8_t* p, TensorDtype dtype) {
  // Assembled byte by byte: the format is little-endian whatever the host is.
  if (dtype == TensorDtype::F32) {
    uint32_t u = 0;
    for (int i = 3; i >= 0; --i) u = (u << 8) | p[i];
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
  uint64_t u = 0;
  for (int i = 7; i >= 0; --i) u = (u << 8) | p[i];
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

// An empty string when every value is acceptable, else what is wrong with the first bad one.
std::string check_values(const std::string& name, TensorDtype dtype, const uint8_t* data,
                         std::size_t size) {
  const std::size_t item = dtype_size(dtype);
  const bool nonneg = must_be_nonnegative(name);
  for (std::size_t i = 0; i * item < size; ++i) {
    const double v = load_element(data + i * item, dtype);
    if (std::isnan(v)) return "tensor " + quote(name) + " holds NaN at element " + std::to_string(i);
    if (std::isinf(v))
      return "tensor " + quote(name) + " holds an infinity at element " + std::to_string(i);
    if (nonneg && v < 0)
      return "tensor " + quote(name) + " holds a negative value at element " + std::to_string(i) +
             " (it must be >= 0)";
  }
  return {};
}

// Parses the safetensors layer. When it fails, a newer-major version in the metadata explains
// why better than the layout error (a new major may change the layout itself).
SafetensorsFile parse_layer(const uint8_t* data, std::size_t size) {
  try {
    return parse_safetensors(data, size, model_file_limits());
  } catch (const Error&) {
    std::optional<FormatVersion> version;
    try {
      const auto md = parse_safetensors_metadata(data, size, model_file_limits());
      const auto format = md.find("format"), text = md.find("format_version");
      if (format != md.end() && format->second == kFormatName && text != md.end())
        version = parse_format_version(text->second);
    } catch (const Error&) {
      // Unreadable metadata: the layout error stands.
    }
    if (version && version->major > kFormatVersion.major) check_readable(*version);
    throw;
  }
}

const std::string& required(const std::map<std::string, std::string>& md, const char* key) {
  const auto it = md.find(key);
  if (it == md.end()) throw format_error(std::string("metadata \"") + key + "\" is missing");
  return it->second;
}

int64_t parse_step(const std::string& s) {
  // Decimal digits only, no sign, no leading zeros, within int64.
  const bool ok = !s.empty() && s.size() <= 19 && (s.size() == 1 || s[0] != '0') &&
                  s.find_first_not_of("0123456789") == std::string::npos;
  uint64_t v = 0;
  for (std::size_t i = 0; ok && i < s.size(); ++i) v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  if (!ok || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    throw format_error("metadata \"step\" " + quote(s) + " is not an integer in [0, 2^63)");
  return static_cast<int64_t>(v);  // 19 digits always fit in uint64
}

const char* dtype_word(DType d) { return d == DType::Float64 ? "float64" : "float32"; }

}  // namespace

TensorDtype file_dtype(const Config& cfg) {
  return cfg.dtype == DType::Float64 ? TensorDtype::F64 : TensorDtype::F32;
}

std::size_t max_model_file_tensors() {
  static const std::size_t n = [] {
    Config largest;
    largest.num_stages = kMaxLayoutStages;
    largest.learn_inner_lr = true;  // the LSLR rows get Adam moments too
    return file_tensors(largest, /*with_optimizer=*/true).size();
  }();
  return n;
}

const SafetensorsLimits& model_file_limits() {
  static const SafetensorsLimits limits = [] {
    SafetensorsLimits l;
    l.max_header = kMaxModelHeaderSize;
    l.max_tensors = max_model_file_tensors();
    l.context = " for a libmamlpp file";
    return l;
  }();
  return limits;
}

std::vector<uint8_t> read_model_file(const std::string& path) {
  try {
    return read_safetensors_file(path, kDefaultMaxFileSize, model_file_limits());
  } catch (const Error& e) {
    // I/O errors name the path already; a header refused from its length must too.
    if (e.kind() == ErrorKind::Format) throw format_error(path + ": " + e.what());
    throw;
  }
}

std::vector<uint8_t> encode_model_file(const ModelFile& file) {
  validate(file.config);
  if (file.step < 0) throw invalid_argument("encode_model_file: step is negative");
  const TensorDtype dtype = file_dtype(file.config);

  std::map<std::string, const NamedArray*> given;
  for (const NamedArray& t : file.tensors)
    if (!given.emplace(t.name, &t).second)
      throw invalid_argument("encode_model_file: tensor " + quote(t.name) + " given twice");

  std::vector<TensorView> views;
  std::vector<std::string> missing;
  for (const TensorSpec& spec : file_tensors(file.config, file.has_optimizer)) {
    const auto it = given.find(spec.name);
    if (it == given.end()) {
      missing.push_back(spec.name);
      continue;
    }
    const NamedArray& t = *it->second;
    given.erase(it);
    const std::string what = "encode_model_file: tensor " + quote(t.name);
    if (t.dtype != dtype)
      throw invalid_argument(what + " has dtype " + dtype_name(t.dtype) + ", the config needs " +
                             dtype_name(dtype));
    if (t.shape != spec.shape)
      throw invalid_argument(what + " has shape " + shape_string(t.shape) +
                             ", the config needs " + shape_string(spec.shape));
    if (t.bytes.size() != static_cast<std::size_t>(spec.numel()) * dtype_size(dtype))
      throw invalid_argument(what + " has " + std::to_string(t.bytes.size()) +
                             " bytes, its shape needs " +
                             std::to_string(spec.numel() * dtype_size(dtype)));
    const std::string bad = check_values(t.name, dtype, t.bytes.data(), t.bytes.size());
    if (!bad.empty()) throw numerical_error("refusing to save: " + bad);
    views.push_back({t.name, dtype, t.shape, t.bytes.data(), t.bytes.size()});
  }
  if (!missing.empty())
    throw invalid_argument("encode_model_file: missing tensors " + name_list(missing));
  if (!given.empty()) {
    std::vector<std::string> extra;
    for (const auto& [name, t] : given) extra.push_back(name);
    throw invalid_argument("encode_model_file: unexpected tensors " + name_list(extra));
  }

  std::map<std::string, std::string> md;
  try {
    check_user_metadata(file.user_metadata);
  } catch (const Error& e) {
    throw invalid_argument(std::string("encode_model_file: ") + e.what());
  }
  md = file.user_metadata;
  md["format"] = kFormatName;
  md["format_version"] = to_string(kFormatVersion);
  md["library_version"] = kLibraryVersion;
  md["config"] = config_to_json(file.config);
  md["step"] = std::to_string(file.step);
  md["has_optimizer"] = file.has_optimizer ? "true" : "false";
  md["dtype"] = dtype_word(file.config.dtype);
  std::vector<uint8_t> bytes = write_safetensors(views, md);
  std::uint64_t header = 0;  // the 8-byte little-endian length that starts the file
  for (int i = 7; i >= 0; --i) header = (header << 8) | bytes[static_cast<std::size_t>(i)];
  if (header > kMaxModelHeaderSize)
    throw invalid_argument("encode_model_file: the header would be " + std::to_string(header) +
                           " bytes, more than the " + std::to_string(kMaxModelHeaderSize) +
                           " a libmamlpp file may have; shorten the extra metadata");
  return bytes;
}

ModelFile decode_model_file(const uint8_t* data, std::size_t size) {
  const SafetensorsFile sf = parse_layer(data, size);
  const auto& md = sf.metadata;
  ModelFile file;

  const auto format = md.find("format");
  if (format == md.end() || format->second != kFormatName)
    throw format_error(format == md.end()
                           ? "not a libmamlpp file: metadata \"format\" is missing"
                           : "not a libmamlpp file: metadata \"format\" is " +
                                 quote(format->second));
  file.format_version = required(md, "format_version");
  const FormatVersion version = parse_format_version(file.format_version);
  check_readable(version);
  file.library_version = required(md, "library_version");

  file.config = config_from_json(required(md, "config"), version);
  try {
    validate(file.config);
  } catch (const Error& e) {
    throw format_error(std::string("metadata \"config\": ") + e.what());
  }
  file.step = parse_step(required(md, "step"));
  const std::string& opt = required(md, "has_optimizer");
  if (opt != "true" && opt != "false")
    throw format_error("metadata \"has_optimizer\" must be \"true\" or \"false\", not " +
                       quote(opt));
  file.has_optimizer = opt == "true";
  const std::string& dtype_text = required(md, "dtype");
  if (dtype_text != dtype_word(file.config.dtype))
    throw format_error("metadata \"dtype\" " + quote(dtype_text) + " disagrees with the config's " +
                       dtype_word(file.config.dtype));
  std::size_t user_bytes = 0;
  for (const auto& [key, value] : md) {
    if (is_reserved_metadata_key(key)) continue;
    try {
      check_metadata_key(key);
      check_metadata_value(key, value);
    } catch (const Error&) {
      continue;  // another tool's key that the ABI cannot carry: ignored, as by 1.0 readers
    }
    file.user_metadata.emplace(key, value);
    user_bytes += key.size() + value.size();
  }
  if (file.user_metadata.size() > kMaxMetadataEntries || user_bytes > kMaxMetadataTotalBytes)
    throw format_error("the user metadata holds " + std::to_string(file.user_metadata.size()) +
                       " entries of " + std::to_string(user_bytes) + " bytes; at most " +
                       std::to_string(kMaxMetadataEntries) + " entries of " +
                       std::to_string(kMaxMetadataTotalBytes) + " bytes together");

  // Every tensor the config implies, nothing else, each with the config's dtype and shape.
  const TensorDtype dtype = file_dtype(file.config);
  std::map<std::string, const TensorView*> present;
  for (const TensorView& t : sf.tensors) present.emplace(t.name, &t);
  const std::vector<TensorSpec> expected = file_tensors(file.config, file.has_optimizer);
  std::vector<std::string> missing;
  for (const TensorSpec& spec : expected)
    if (!present.count(spec.name)) missing.push_back(spec.name);
  if (!missing.empty())
    throw format_error("missing tensors " + name_list(missing) + " (the config needs " +
                       std::to_string(expected.size()) + ")");
  if (present.size() != expected.size()) {
    std::set<std::string> wanted;
    for (const TensorSpec& spec : expected) wanted.insert(spec.name);
    std::vector<std::string> extra;
    for (const TensorView& t : sf.tensors)
      if (!wanted.count(t.name)) extra.push_back(t.name);
    throw format_error("unexpected tensors " + name_list(extra) + " (not in the config's layout" +
                       (file.has_optimizer ? ")" : "; has_optimizer is false)"));
  }
  for (const TensorSpec& spec : expected) {
    const TensorView& t = *present.at(spec.name);
    if (t.dtype != dtype)
      throw format_error("tensor " + quote(t.name) + " has dtype " + dtype_name(t.dtype) +
                         ", the config's dtype needs " + dtype_name(dtype));
    if (t.shape != spec.shape)
      throw format_error("tensor " + quote(t.name) + " has shape " + shape_string(t.shape) +
                         ", the config needs " + shape_string(spec.shape));
    const std::string bad = check_values(t.name, dtype, t.data, t.size);
    if (!bad.empty()) throw format_error(bad);
    file.tensors.push_back({t.name, dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.size)});
  }
  return file;
}

}  // namespace mamlpp::io
