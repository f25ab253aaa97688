// Helpers for putting bytes that came from a file into error messages. Such bytes may be
// invalid UTF-8 or control characters, and messages travel to every language binding, so they
// are escaped to printable ASCII and shortened.
#pragma once

#include <cstddef>
#include <string>

namespace mamlpp::io {

// `s` with bytes outside printable ASCII (and backslash) as \xNN, cut to about max_len
// characters with "..." when longer.
std::string printable(const std::string& s, std::size_t max_len = 300);

// printable(s, 120) in single quotes: for names and values taken from a file.
std::string quote(const std::string& s);

}  // namespace mamlpp::io
