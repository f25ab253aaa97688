// JSON parsing for untrusted input. nlohmann::json silently keeps the last of duplicate keys and
// nests as deep as the input asks; a file format must do neither, so this wrapper refuses both.
// Internal to src/io (exposes nlohmann).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace mamlpp::io {

// Parses [begin, end) as exactly one JSON value (surrounding JSON whitespace allowed). Throws
// format_error("<what>: ...") on invalid JSON or UTF-8, a duplicate key in any object, or
// objects/arrays nested more than max_depth levels (the top-level value is level 1).
nlohmann::json parse_json_strict(const char* begin, const char* end, int max_depth,
                                 const std::string& what);

}  // namespace mamlpp::io
