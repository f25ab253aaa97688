// Read-only access to a zip archive held in memory (libzip), so datasets are read as users
// download them, without unpacking to disk.
//
// libzip handles are not safe to share between threads, but several ZipArchive objects may read
// the same bytes at once: a parallel loader opens one per worker over one shared buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct zip;

namespace mamlpp::data {

class ZipArchive {
 public:
  // `bytes` must outlive the archive. `name` (the file's path) is used in error messages; `hint`
  // is appended to format errors, e.g. where to download a good copy.
  ZipArchive(std::shared_ptr<const std::vector<uint8_t>> bytes, std::string name,
             std::string hint = {});
  // Reads the file at `path` first (Io error when missing or unreadable).
  static ZipArchive open_file(const std::string& path, std::string hint = {});
  ~ZipArchive();
  ZipArchive(ZipArchive&&) noexcept;
  ZipArchive& operator=(ZipArchive&&) = delete;
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  int64_t num_entries() const;
  // The entry's path inside the archive ("images_background/Greek/character01/0394_01.png").
  std::string entry_name(int64_t index) const;
  // Decompresses entry `index` into `out` (resized to fit; its capacity is reused).
  void read(int64_t index, std::vector<uint8_t>& out) const;

  const std::string& name() const { return name_; }
  const std::shared_ptr<const std::vector<uint8_t>>& bytes() const { return bytes_; }

 private:
  std::shared_ptr<const std::vector<uint8_t>> bytes_;
  std::string name_;
  std::string hint_;
  struct zip* archive_ = nullptr;
};

}  // namespace mamlpp::data
