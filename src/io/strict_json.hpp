// The project's one JSON reader for untrusted input (model-file headers, the config inside them,
// the CLI's config files, --set values and state.json). nlohmann::json silently keeps the last of
// duplicate keys and nests as deep as the input asks; a file format must do neither, so this
// reader refuses both, and it bounds the size of every container so that a hostile input is
// refused as soon as it passes a limit. It builds the value from nlohmann's SAX events in one
// pass: time and memory are linear in the input.
// Internal to src/io and the CLI (exposes nlohmann).
#pragma once

#include <cstddef>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace mamlpp::io {

struct JsonLimits {
  // Objects and arrays nested more than this are refused (the top-level value is level 1).
  int max_depth = 64;
  // Entries (members or elements) in any one object or array.
  std::size_t max_members = std::numeric_limits<std::size_t>::max();
  // Appended to the message when max_members is exceeded: what the limit stands for, e.g.
  // " (a libmamlpp file holds at most 332 tensors)".
  std::string members_note;
  // A UTF-8 byte order mark before the value: refused in file formats, skipped in files people
  // edit (some editors write one).
  bool allow_byte_order_mark = false;
};

// Parses [begin, end) as exactly one JSON value (surrounding JSON whitespace allowed). Throws
// format_error("<what>: ...") on invalid JSON or UTF-8 (nlohmann's message, with the line and
// column), a duplicate key in any object, nesting deeper than limits.max_depth, or a container
// with more than limits.max_members entries; nothing else but std::bad_alloc. Never recurses
// on the input's nesting.
nlohmann::json parse_json_strict(const char* begin, const char* end, const JsonLimits& limits,
                                 const std::string& what);

// The same with only a depth limit.
nlohmann::json parse_json_strict(const char* begin, const char* end, int max_depth,
                                 const std::string& what);

}  // namespace mamlpp::io
