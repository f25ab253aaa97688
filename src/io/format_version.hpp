// The libmamlpp file format version, "major.minor". A minor bump only adds (metadata keys, config
// fields with defaults); a major bump may change anything. Torch-free.
#pragma once

#include <string>

namespace mamlpp::io {

struct FormatVersion {
  int major = 0;
  int minor = 0;
};

// What this library writes.
constexpr FormatVersion kFormatVersion{1, 3};

std::string to_string(FormatVersion v);

// Parses "major.minor" (decimal, no signs, no leading zeros, each at most 6 digits). Throws
// format_error otherwise.
FormatVersion parse_format_version(const std::string& text);

// Throws format_error unless this library can read files of version v: any 1.x (an older minor
// lacks only things that have defaults; a newer minor only adds things this reader ignores). A
// newer major is refused with a message naming both versions.
void check_readable(FormatVersion v);

}  // namespace mamlpp::io
