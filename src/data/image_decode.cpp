#include "data/image_decode.hpp"

#include "common/error.hpp"

namespace mamlpp::data {

void check_image_size(uint64_t width, uint64_t height, const char* format, const std::string& name) {
  if (width * height <= kMaxImagePixels) return;  // both < 2^32: no overflow
  throw format_error(name + ": the " + format + " header claims " + std::to_string(width) + "x" +
                     std::to_string(height) + " pixels, more than the limit of " +
                     std::to_string(kMaxImagePixels) + " (8192x8192); shrink the image or replace the file");
}

void decode_image(const uint8_t* data, size_t size, const std::string& name, Image8& out) {
  if (has_png_signature(data, size)) return decode_png(data, size, name, out);
  if (has_jpeg_signature(data, size)) return decode_jpeg(data, size, name, out);
  throw format_error(name + ": neither a PNG nor a JPEG image (" +
                     (size == 0 ? std::string("the file is empty") : "unknown signature") +
                     "); replace or remove the file");
}

}  // namespace mamlpp::data
