#include "io/user_metadata.hpp"

#include <cstdint>
#include <set>

#include "common/error.hpp"
#include "io/text.hpp"

namespace mamlpp::io {

namespace {

bool key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == ':' || c == '/';
}

// The offset of the first byte that is not part of valid UTF-8 text as the rules allow it
// (no overlong forms, no surrogates, nothing past U+10FFFF, no control character but \t \n \r),
// or npos.
std::size_t first_bad_byte(const std::string& s, const char** why) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
        *why = "a control character";
        return i;
      }
      ++i;
      continue;
    }
    std::size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      *why = "invalid UTF-8";
      return i;
    }
    if (i + len > n) {
      *why = "truncated UTF-8";
      return i;
    }
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) {
        *why = "invalid UTF-8";
        return i;
      }
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      *why = "invalid UTF-8";
      return i;
    }
    i += len;
  }
  return std::string::npos;
}

}  // namespace

bool is_reserved_metadata_key(const std::string& key) {
  static const std::set<std::string> library = {"format", "format_version", "library_version",
                                                "config", "step",           "has_optimizer",
                                                "dtype"};
  return library.count(key) != 0 || key.rfind(kReservedMetadataPrefix, 0) == 0;
}

void check_metadata_key(const std::string& key) {
  if (key.empty()) throw invalid_argument("metadata key must not be empty");
  if (key.size() > kMaxMetadataKeyBytes)
    throw invalid_argument("metadata key " + quote(key) + " is " + std::to_string(key.size()) +
                           " bytes long; at most " + std::to_string(kMaxMetadataKeyBytes));
  for (char c : key)
    if (!key_char(c))
      throw invalid_argument("metadata key " + quote(key) +
                             " may only hold ASCII letters, digits and . _ - : /");
  if (is_reserved_metadata_key(key))
    throw invalid_argument("metadata key " + quote(key) +
                           " is reserved for libmamlpp (its own keys and the prefix '" +
                           kReservedMetadataPrefix + "')");
}

void check_metadata_value(const std::string& key, const std::string& value) {
  if (value.size() > kMaxMetadataValueBytes)
    throw invalid_argument("metadata value of " + quote(key) + " is " +
                           std::to_string(value.size()) + " bytes long; at most " +
                           std::to_string(kMaxMetadataValueBytes));
  const char* why = "";
  const std::size_t bad = first_bad_byte(value, &why);
  if (bad != std::string::npos)
    throw invalid_argument("metadata value of " + quote(key) + " holds " + why + " at byte " +
                           std::to_string(bad) +
                           " (values are UTF-8 text; tab, line feed and carriage return are the "
                           "only control characters allowed)");
}

void check_user_metadata(const UserMetadata& md) {
  std::size_t total = 0;
  for (const auto& [key, value] : md) {
    check_metadata_key(key);
    check_metadata_value(key, value);
    total += key.size() + value.size();
  }
  if (md.size() > kMaxMetadataEntries)
    throw invalid_argument(std::to_string(md.size()) + " metadata entries; at most " +
                           std::to_string(kMaxMetadataEntries));
  if (total > kMaxMetadataTotalBytes)
    throw invalid_argument("metadata keys and values take " + std::to_string(total) +
                           " bytes; at most " + std::to_string(kMaxMetadataTotalBytes) +
                           " together");
}

}  // namespace mamlpp::io
