#include "io/strict_json.hpp"

#include <utility>
#include <vector>

#include "common/error.hpp"
#include "io/text.hpp"

namespace mamlpp::io {

namespace {

using nlohmann::json;

// nlohmann's messages start with "[json.exception.parse_error.101] "; people need the rest.
std::string without_exception_id(const std::string& m) {
  const std::size_t close = m.find("] ");
  return m.rfind("[json.exception", 0) == 0 && close != std::string::npos ? m.substr(close + 2) : m;
}

// Builds the value from nlohmann's SAX events, checking the limits and duplicate keys as it goes:
// each event costs O(log members) at most, so the whole parse is linear in the input (nlohmann's
// callback parser instead re-examines the parent object each time a nested one closes). The
// containers being filled are on an explicit stack; nothing recurses on the input's nesting.
class StrictBuilder {
 public:
  StrictBuilder(json& root, const JsonLimits& limits, const std::string& what)
      : root_(root), limits_(limits), what_(what) {}

  bool null() { return put(json(nullptr)); }
  bool boolean(bool v) { return put(json(v)); }
  bool number_integer(json::number_integer_t v) { return put(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return put(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t& /*text*/) { return put(json(v)); }
  bool string(json::string_t& v) { return put(json(std::move(v))); }
  bool binary(json::binary_t& /*v*/) { throw format_error(what_ + ": invalid JSON: binary value"); }

  bool start_object(std::size_t /*elements*/) { return open(json::value_t::object); }
  bool key(json::string_t& k) {
    auto& members = stack_.back()->get_ref<json::object_t&>();
    if (members.count(k) != 0) throw format_error(what_ + ": duplicate key " + quote(k));
    if (members.size() >= limits_.max_members) too_many();
    member_ = &members.emplace(std::move(k), nullptr).first->second;
    return true;
  }
  bool end_object() { return close(); }

  bool start_array(std::size_t /*elements*/) { return open(json::value_t::array); }
  bool end_array() { return close(); }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/, const json::exception& e) {
    // The message quotes the offending bytes, which may be invalid UTF-8.
    throw format_error(what_ + ": invalid JSON: " + printable(without_exception_id(e.what())));
  }

 private:
  [[noreturn]] void too_many() const {
    throw format_error(what_ + ": more than " + std::to_string(limits_.max_members) +
                       " entries in one JSON object or array" + limits_.members_note);
  }

  // Stores a finished value where it belongs: the root, the open array, or the member whose key
  // came last. Returns where it now lives (stable while it is being filled: only the innermost
  // open container grows).
  json* place(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      auto& elements = top.get_ref<json::array_t&>();
      if (elements.size() >= limits_.max_members) too_many();
      elements.push_back(std::move(v));
      return &elements.back();
    }
    *member_ = std::move(v);
    return member_;
  }
  bool put(json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(json::value_t type) {
    // Checked before the container is opened, so hostile nesting stops at once.
    if (stack_.size() >= static_cast<std::size_t>(limits_.max_depth))
      throw format_error(what_ + ": JSON nested deeper than " + std::to_string(limits_.max_depth) +
                         " levels");
    stack_.push_back(place(json(type)));
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  json& root_;
  const JsonLimits& limits_;
  const std::string& what_;
  std::vector<json*> stack_;  // the open containers, innermost last
  json* member_ = nullptr;    // the member the next value of the innermost object fills
};

}  // namespace

nlohmann::json parse_json_strict(const char* begin, const char* end, const JsonLimits& limits,
                                 const std::string& what) {
  // nlohmann skips a UTF-8 byte order mark; JSON text in a file format must not carry one.
  const bool bom = end - begin >= 3 && static_cast<unsigned char>(begin[0]) == 0xEF &&
                   static_cast<unsigned char>(begin[1]) == 0xBB &&
                   static_cast<unsigned char>(begin[2]) == 0xBF;
  if (bom && !limits.allow_byte_order_mark)
    throw format_error(what + ": invalid JSON: starts with a byte order mark");
  json root;
  StrictBuilder builder(root, limits, what);
  // Every failure throws from the builder (parse_error included), so the result is always true.
  json::sax_parse(begin, end, &builder, json::input_format_t::json, /*strict=*/true,
                  /*ignore_comments=*/false);
  return root;
}

nlohmann::json parse_json_strict(const char* begin, const char* end, int max_depth,
                                 const std::string& what) {
  JsonLimits limits;
  limits.max_depth = max_depth;
  return parse_json_strict(begin, end, limits, what);
}

}  // namespace mamlpp::io
