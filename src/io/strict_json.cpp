#include "io/strict_json.hpp"

#include <set>
#include <vector>

#include "common/error.hpp"
#include "io/text.hpp"

namespace mamlpp::io {

nlohmann::json parse_json_strict(const char* begin, const char* end, int max_depth,
                                 const std::string& what) {
  using nlohmann::json;
  // Keys seen in each open object, innermost last. Keys always belong to the innermost open
  // object, whatever arrays lie between.
  std::vector<std::set<std::string>> open_objects;
  const json::parser_callback_t check = [&](int depth, json::parse_event_t event,
                                            json& parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        // Checked before the container is opened, so hostile nesting stops at once.
        if (depth >= max_depth)
          throw format_error(what + ": JSON nested deeper than " + std::to_string(max_depth) +
                             " levels");
        if (event == json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!open_objects.empty() && !open_objects.back().insert(key).second)
          throw format_error(what + ": duplicate key " + quote(key));
        break;
      }
      default:
        break;
    }
    return true;
  };
  // nlohmann skips a UTF-8 byte order mark; JSON text from a file must not carry one.
  if (end - begin >= 3 && static_cast<unsigned char>(begin[0]) == 0xEF &&
      static_cast<unsigned char>(begin[1]) == 0xBB && static_cast<unsigned char>(begin[2]) == 0xBF)
    throw format_error(what + ": invalid JSON: starts with a byte order mark");
  try {
    return json::parse(begin, end, check, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    // nlohmann's message quotes the offending bytes, which may be invalid UTF-8.
    throw format_error(what + ": invalid JSON: " + printable(e.what()));
  }
}

}  // namespace mamlpp::io
