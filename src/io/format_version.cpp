#include "io/format_version.hpp"

#include "common/error.hpp"
#include "io/text.hpp"

namespace mamlpp::io {

namespace {

// One component: 1 to 6 digits, no leading zero unless it is "0".
bool parse_component(const std::string& s, int* out) {
  if (s.empty() || s.size() > 6 || (s.size() > 1 && s[0] == '0')) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::string to_string(FormatVersion v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor);
}

FormatVersion parse_format_version(const std::string& text) {
  const auto dot = text.find('.');
  FormatVersion v;
  if (dot == std::string::npos || !parse_component(text.substr(0, dot), &v.major) ||
      !parse_component(text.substr(dot + 1), &v.minor))
    throw format_error("metadata \"format_version\" " + quote(text) +
                       " is not a version of the form major.minor");
  return v;
}

void check_readable(FormatVersion v) {
  if (v.major > kFormatVersion.major)
    throw format_error("file format " + to_string(v) + " is newer than this library's " +
                       to_string(kFormatVersion) + "; upgrade libmamlpp");
  // 1.0 is the first version; nothing older was ever written.
  if (v.major < 1)
    throw format_error("file format " + to_string(v) + " does not exist (the first is 1.0)");
}

}  // namespace mamlpp::io
