#include "io/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "io/strict_json.hpp"
#include "io/text.hpp"

namespace mamlpp::io {

namespace {

using nlohmann::json;

constexpr const char* kMetadataKey = "__metadata__";

std::string num(std::uint64_t v) { return std::to_string(v); }

std::uint64_t load_le64(const uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void store_le64(uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// a * b, or false when it does not fit in 64 bits.
bool mul_u64(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

struct Header {
  json root;                  // the JSON object, already checked to be an object
  std::size_t data_begin = 0;  // 8 + N
  std::size_t data_size = 0;   // bytes after the header
};

}  // namespace

void check_safetensors_length(const uint8_t* data, std::size_t available, std::uint64_t size,
                              const SafetensorsLimits& limits) {
  if (size < 8 || available < 8)
    throw format_error("file is " + num(size) +
                       " bytes, too short for the 8-byte header length (truncated?)");
  const std::uint64_t n = load_le64(data);
  if (n > limits.max_header)
    throw format_error("header length " + num(n) + " exceeds the limit of " +
                       num(limits.max_header) + " bytes" + limits.context);
  if (n > size - 8)
    throw format_error("header length " + num(n) + " runs past the end of the file (" +
                       num(size) + " bytes; truncated?)");
}

namespace {

Header read_header(const uint8_t* data, std::size_t size, const SafetensorsLimits& lim) {
  if (data == nullptr && size != 0) throw format_error("no data");
  check_safetensors_length(data, size, size, lim);
  const std::uint64_t n = load_le64(data);
  const char* begin = reinterpret_cast<const char*>(data + 8);
  const char* end = begin + n;
  if (n == 0 || begin[0] != '{')
    throw format_error("header: JSON must start with '{'");
  // The only padding safetensors allows is trailing spaces (0x20).
  const char* last = end;
  while (last > begin && last[-1] == ' ') --last;
  if (last[-1] != '}')
    throw format_error("header: JSON must end with '}' followed only by space padding");
  Header h;
  JsonLimits limits;
  limits.max_depth = 3;  // the header object, a tensor entry, its shape array
  // The header object holds the tensors and "__metadata__"; no entry or shape comes near that.
  limits.max_members = std::max<std::size_t>(lim.max_tensors, kMaxRank) + 1;
  limits.members_note = " (at most " + num(lim.max_tensors) + " tensors" + lim.context + ")";
  h.root = parse_json_strict(begin, last, limits, "header");
  if (!h.root.is_object()) throw format_error("header: not a JSON object");
  h.data_begin = static_cast<std::size_t>(8 + n);
  h.data_size = size - h.data_begin;
  return h;
}

std::map<std::string, std::string> read_metadata(const json& value) {
  if (!value.is_object()) throw format_error("header: \"__metadata__\" must be an object");
  std::map<std::string, std::string> out;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string())
      throw format_error("header: \"__metadata__\" value for " + quote(key) +
                         " must be a string (safetensors metadata is string to string)");
    out.emplace(key, v.get<std::string>());
  }
  return out;
}

// A non-negative JSON integer, or a format error naming `what`.
std::uint64_t read_uint(const json& v, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) throw format_error(what + " is negative");
  if (v.is_number_float()) throw format_error(what + " must be an integer (or is too large)");
  throw format_error(what + " must be a number");
}

struct Entry {
  TensorView view;
  std::uint64_t begin = 0, end = 0;
};

Entry read_entry(const std::string& name, const json& value, std::size_t data_size) {
  const std::string t = "tensor " + quote(name);
  if (name.empty()) throw format_error("header: a tensor has an empty name");
  if (!value.is_object()) throw format_error(t + ": entry must be an object");
  for (const auto& [key, v] : value.items()) {
    (void)v;
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      throw format_error(t + ": unexpected field " + quote(key));
  }
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!value.contains(key)) throw format_error(t + ": missing field \"" + key + "\"");

  Entry e;
  e.view.name = name;
  const json& dtype = value["dtype"];
  if (!dtype.is_string()) throw format_error(t + ": \"dtype\" must be a string");
  const auto parsed = parse_dtype(dtype.get<std::string>());
  if (!parsed) throw format_error(t + ": unknown dtype " + quote(dtype.get<std::string>()));
  e.view.dtype = *parsed;
  const std::uint64_t item = dtype_size(e.view.dtype);

  const json& shape = value["shape"];
  if (!shape.is_array()) throw format_error(t + ": \"shape\" must be an array");
  if (shape.size() > kMaxRank)
    throw format_error(t + ": shape has " + num(shape.size()) + " dimensions, more than " +
                       num(kMaxRank));
  std::uint64_t bytes = item;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const std::uint64_t d = read_uint(shape[i], t + ": dimension " + num(i));
    if (d > kMaxDim) throw format_error(t + ": dimension " + num(i) + " is too large (" + num(d) + ")");
    if (!mul_u64(bytes, d, &bytes)) throw format_error(t + ": shape's byte size overflows");
    e.view.shape.push_back(static_cast<int64_t>(d));
  }

  const json& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    throw format_error(t + ": \"data_offsets\" must be [begin, end]");
  e.begin = read_uint(offsets[0], t + ": data_offsets begin");
  e.end = read_uint(offsets[1], t + ": data_offsets end");
  if (e.begin > e.end)
    throw format_error(t + ": data_offsets [" + num(e.begin) + ", " + num(e.end) +
                       "] end before they begin");
  if (e.end > data_size)
    throw format_error(t + ": data_offsets [" + num(e.begin) + ", " + num(e.end) +
                       "] out of range: the data section has " + num(data_size) +
                       " bytes (truncated?)");
  if (e.end - e.begin != bytes)
    throw format_error(t + ": shape and dtype " + dtype_name(e.view.dtype) + " need " +
                       num(bytes) + " bytes but data_offsets cover " + num(e.end - e.begin));
  // Aligned elements can be read in place (mmap); an empty tensor has none to misalign.
  if (bytes != 0 && e.begin % item != 0)
    throw format_error(t + ": data offset " + num(e.begin) + " is not aligned to the " +
                       num(item) + "-byte element size");
  e.view.size = static_cast<std::size_t>(bytes);
  return e;
}

}  // namespace

SafetensorsFile parse_safetensors(const uint8_t* data, std::size_t size,
                                  const SafetensorsLimits& limits) {
  Header h = read_header(data, size, limits);
  SafetensorsFile file;
  file.data_begin = h.data_begin;
  std::vector<Entry> entries;
  for (const auto& [key, value] : h.root.items()) {
    if (key == kMetadataKey)
      file.metadata = read_metadata(value);
    else
      entries.push_back(read_entry(key, value, h.data_size));
  }
  if (entries.size() > limits.max_tensors)
    throw format_error("header: " + num(entries.size()) + " tensors, more than the " +
                       num(limits.max_tensors) + " allowed" + limits.context);
  // Walk the ranges in order: each must start exactly where the previous one ended.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.view.name) < std::tie(b.begin, b.end, b.view.name);
  });
  std::uint64_t covered = 0;
  for (Entry& e : entries) {
    if (e.begin < covered)
      throw format_error("tensor " + quote(e.view.name) + ": data_offsets [" + num(e.begin) +
                         ", " + num(e.end) + "] overlap tensor " +
                         quote(file.tensors.back().name));
    if (e.begin > covered)
      throw format_error("hole in the data section: bytes [" + num(covered) + ", " +
                         num(e.begin) + ") belong to no tensor");
    covered = e.end;
    e.view.data = data + h.data_begin + e.begin;
    file.tensors.push_back(std::move(e.view));
  }
  if (covered != h.data_size)
    throw format_error(num(h.data_size - covered) +
                       " trailing bytes after the last tensor's data (the data section must be "
                       "covered exactly)");
  return file;
}

std::map<std::string, std::string> parse_safetensors_metadata(const uint8_t* data,
                                                              std::size_t size,
                                                              const SafetensorsLimits& limits) {
  const Header h = read_header(data, size, limits);
  std::map<std::string, std::string> out;
  const auto it = h.root.find(kMetadataKey);
  if (it == h.root.end() || !it->is_object()) return out;
  for (const auto& [key, v] : it->items())
    if (v.is_string()) out.emplace(key, v.get<std::string>());
  return out;
}

std::vector<uint8_t> write_safetensors(const std::vector<TensorView>& tensors,
                                       const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps entries in insertion order: the header lists tensors in data order.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json md = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) md[key] = value;
    header[kMetadataKey] = std::move(md);
  }
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const TensorView& t : tensors) {
    const std::string what = "write_safetensors: tensor " + quote(t.name);
    if (t.name.empty() || t.name == kMetadataKey)
      throw invalid_argument("write_safetensors: invalid tensor name " + quote(t.name));
    if (!names.insert(t.name).second) throw invalid_argument(what + " appears twice");
    std::uint64_t bytes = dtype_size(t.dtype);
    for (int64_t d : t.shape) {
      if (d < 0) throw invalid_argument(what + " has a negative dimension");
      if (!mul_u64(bytes, static_cast<std::uint64_t>(d), &bytes))
        throw invalid_argument(what + ": size overflows");
    }
    if (bytes != t.size)
      throw invalid_argument(what + ": shape and dtype need " + num(bytes) + " bytes, got " +
                             num(t.size));
    if (t.size != 0 && t.data == nullptr) throw invalid_argument(what + ": no data");
    // The reader requires aligned elements; order tensors by falling element size to get them.
    if (bytes != 0 && offset % dtype_size(t.dtype) != 0)
      throw invalid_argument(what + " would start at byte " + num(offset) +
                             ", not aligned to its element size; put larger elements first");
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();  // strict: throws on invalid UTF-8
  } catch (const nlohmann::json::exception& e) {
    throw invalid_argument("write_safetensors: " + printable(e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<uint8_t> out(8 + text.size() + offset);
  store_le64(out.data(), text.size());
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* dst = out.data() + 8 + text.size();
  for (const TensorView& t : tensors) {
    if (t.size != 0) std::memcpy(dst, t.data, t.size);
    dst += t.size;
  }
  return out;
}

}  // namespace mamlpp::io
