// Whole-file reads and atomic replacement, with errors that name the path and the reason.
// POSIX. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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

// The whole file. Throws mamlpp::io_error naming the path when it is missing, a directory,
// unreadable, or larger than max_size bytes.
std::vector<uint8_t> read_whole_file(const std::string& path,
                                     std::uint64_t max_size = kDefaultMaxFileSize);

}  // namespace mamlpp::io
