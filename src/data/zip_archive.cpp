#include "data/zip_archive.hpp"

#include <zip.h>

#include <utility>

#include "common/error.hpp"
#include "data/file_bytes.hpp"

namespace mamlpp::data {
namespace {

std::string zip_message(zip_error_t* error) {
  std::string m = zip_error_strerror(error);
  zip_error_fini(error);
  return m;
}

}  // namespace

ZipArchive::ZipArchive(std::shared_ptr<const std::vector<uint8_t>> bytes, std::string name,
                       std::string hint)
    : bytes_(std::move(bytes)), name_(std::move(name)), hint_(std::move(hint)) {
  const std::string suffix = hint_.empty() ? std::string() : "; " + hint_;
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(bytes_->data(), bytes_->size(), 0, &error);
  if (!source) throw io_error(name_ + ": cannot read as a zip archive (" + zip_message(&error) + ")");
  archive_ = zip_open_from_source(source, ZIP_RDONLY, &error);
  if (!archive_) {
    zip_source_free(source);
    throw format_error(name_ + ": not a valid zip archive (zip error: " + zip_message(&error) + ")" +
                       suffix);
  }
  zip_error_fini(&error);
}

ZipArchive ZipArchive::open_file(const std::string& path, std::string hint) {
  auto bytes = std::make_shared<const std::vector<uint8_t>>(read_file_bytes(path));
  return ZipArchive(std::move(bytes), path, std::move(hint));
}

ZipArchive::~ZipArchive() {
  if (archive_) zip_discard(archive_);
}

ZipArchive::ZipArchive(ZipArchive&& o) noexcept
    : bytes_(std::move(o.bytes_)), name_(std::move(o.name_)), hint_(std::move(o.hint_)),
      archive_(std::exchange(o.archive_, nullptr)) {}

int64_t ZipArchive::num_entries() const { return zip_get_num_entries(archive_, 0); }

std::string ZipArchive::entry_name(int64_t index) const {
  const char* n = zip_get_name(archive_, static_cast<zip_uint64_t>(index), ZIP_FL_ENC_RAW);
  if (!n)
    throw format_error(name_ + ": cannot read the name of entry " + std::to_string(index) +
                       " (zip error: " + zip_strerror(archive_) + ")");
  return n;
}

void ZipArchive::read(int64_t index, std::vector<uint8_t>& out) const {
  const std::string suffix = hint_.empty() ? std::string() : "; " + hint_;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(archive_, static_cast<zip_uint64_t>(index), 0, &st) != 0 ||
      !(st.valid & ZIP_STAT_SIZE))
    throw format_error(name_ + ": cannot stat entry " + std::to_string(index) + " (zip error: " +
                       zip_strerror(archive_) + ")" + suffix);
  out.resize(static_cast<size_t>(st.size));
  zip_file_t* file = zip_fopen_index(archive_, static_cast<zip_uint64_t>(index), 0);
  if (!file)
    throw format_error(name_ + ": cannot open entry '" + entry_name(index) + "' (zip error: " +
                       zip_strerror(archive_) + ")" + suffix);
  const zip_int64_t got = zip_fread(file, out.data(), out.size());
  std::string message = got < 0 ? zip_file_strerror(file) : "";
  zip_fclose(file);
  if (got < 0 || static_cast<zip_uint64_t>(got) != st.size)
    throw format_error(name_ + ": entry '" + entry_name(index) + "' is damaged (" +
                       (got < 0 ? "zip error: " + message : "short read") + ")" + suffix);
}

}  // namespace mamlpp::data
