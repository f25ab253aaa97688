// Reads a whole file into memory, with errors that name the file and the reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mamlpp::data {

// Larger images and archives are refused before anything is allocated.
constexpr uint64_t kMaxDataFileSize = uint64_t{16} << 30;  // 16 GiB

// Throws mamlpp::Error (Io) naming `path` when it is missing, unreadable, larger than
// kMaxDataFileSize, or not a regular file: a folder, FIFO or device is refused without blocking
// or reading (common/read_file.hpp).
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace mamlpp::data
