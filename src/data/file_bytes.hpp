// Reads a whole file into memory, with errors that name the file and the reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mamlpp::data {

// Throws mamlpp::Error (Io) naming `path` when it is missing, a folder, or unreadable.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace mamlpp::data
