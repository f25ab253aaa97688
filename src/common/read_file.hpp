// Reading a whole file that may come from anyone: a path can name a FIFO that nobody writes (open
// and read would block forever), a device that never ends (/dev/zero), a folder, or a regular
// file far larger than what it claims to hold. One reader for the io and data layers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mamlpp {

// Called with the first `head_size` bytes of the file (fewer when the file is shorter) and the
// file's size, before the rest is read; throws to refuse the file.
using FileHeadCheck = std::function<void(const uint8_t* head, std::size_t head_size, uint64_t file_size)>;

// The whole of the regular file at `path`. The file is opened without blocking and checked with
// fstat before a byte is read, so a FIFO, a device, a socket or a folder is refused at once;
// then its size is checked against max_size, then check_head (if set) sees the first head_size
// bytes, and only then is the rest read, into one allocation. Throws mamlpp::Error (Io) naming
// the path and the reason, or whatever check_head throws.
std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_size,
                                       std::size_t head_size = 0, const FileHeadCheck& check_head = {});

}  // namespace mamlpp
