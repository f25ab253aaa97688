// Whole-file reads and atomic replacement, with errors that name the path and the reason.
// POSIX. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/safetensors.hpp"

namespace mamlpp::io {

// Larger files are refused before anything is allocated.
constexpr std::uint64_t kDefaultMaxFileSize = std::uint64_t{16} << 30;  // 16 GiB

// Replaces the file at `path` with exactly `size` bytes so that, at every moment and after a
// crash, path holds either the complete old file or the complete new one: a uniquely named
// temporary file in the same directory (O_EXCL) is written, fsynced, given the old file's mode,
// renamed over path, and the directory is fsynced. On any failure the temporary file is removed,
// the old file is untouched, and mamlpp::io_error names the path, the step and strerror.
// (Note: a symlink at path is replaced by a regular file.)
void atomic_write_file(const std::string& path, const uint8_t* data, std::size_t size);
void atomic_write_file(const std::string& path, const std::vector<uint8_t>& bytes);

// The whole regular file (common/read_file.hpp). Throws mamlpp::io_error naming the path when it
// is missing, unreadable, larger than max_size bytes, or not a regular file (a folder, FIFO,
// device or socket is refused from fstat, without blocking or reading).
std::vector<uint8_t> read_whole_file(const std::string& path,
                                     std::uint64_t max_size = kDefaultMaxFileSize);

// A safetensors file: as read_whole_file, and the 8-byte header length is checked against the
// file's size and limits.max_header (check_safetensors_length) before the rest is read, so a
// file whose header cannot fit is refused with a Format error after 8 bytes.
std::vector<uint8_t> read_safetensors_file(const std::string& path,
                                           std::uint64_t max_size = kDefaultMaxFileSize,
                                           const SafetensorsLimits& limits = {});

}  // namespace mamlpp::io
