#include "data/file_bytes.hpp"

#include "common/read_file.hpp"

namespace mamlpp::data {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  return read_regular_file(path, kMaxDataFileSize);
}

}  // namespace mamlpp::data
