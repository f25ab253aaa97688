// User metadata: the string key -> string value pairs a host attaches to a model file (the CLI
// stores the preprocessing and the class names there). They live in the safetensors header's
// "__metadata__" beside the library's own keys. docs/FILE_FORMAT.md (section 4.1) is the
// specification of the rules below; maml_set_metadata applies them, so that every file a model
// can be saved to stays within the header limit.
#pragma once

#include <cstddef>
#include <map>
#include <string>

namespace mamlpp::io {

using UserMetadata = std::map<std::string, std::string>;

// A key: 1 to 128 bytes of ASCII letters, digits and . _ - : /
constexpr std::size_t kMaxMetadataKeyBytes = 128;
// A value: valid UTF-8 of at most 65536 bytes, without control characters except tab, line
// feed and carriage return (so JSON escaping at most doubles it).
constexpr std::size_t kMaxMetadataValueBytes = 64 * 1024;
// At most 256 entries, and 256 KiB of keys and values together: escaped, under half of the
// 1 MiB header limit, leaving the rest to the library's own keys (under 50 KB).
constexpr std::size_t kMaxMetadataEntries = 256;
constexpr std::size_t kMaxMetadataTotalBytes = 256 * 1024;
// Keys the library reserves: the names it writes itself (format, format_version, ...) and every
// key that starts with this prefix (future library keys).
constexpr const char* kReservedMetadataPrefix = "libmamlpp.";

// True for the library's own metadata keys (the ones this version writes and the prefix).
bool is_reserved_metadata_key(const std::string& key);

// Throw invalid_argument naming the key and what is wrong; a value's error does not quote the
// value (it may be long), only its key and the byte offset.
void check_metadata_key(const std::string& key);
void check_metadata_value(const std::string& key, const std::string& value);
// Every entry, then the count and the total against the limits.
void check_user_metadata(const UserMetadata& md);

}  // namespace mamlpp::io
