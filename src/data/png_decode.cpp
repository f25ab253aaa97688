// PNG through libpng's simplified API: it handles every bit depth, palette and tRNS case and
// reports errors through png_image.message instead of longjmp, which keeps C++ unwinding sane.
#include <png.h>

#include <cstring>

#include "common/error.hpp"
#include "data/image_decode.hpp"

namespace mamlpp::data {

bool has_png_signature(const uint8_t* data, size_t size) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return size >= 8 && std::memcmp(data, sig, 8) == 0;
}

void decode_png(const uint8_t* data, size_t size, const std::string& name, Image8& out) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size)) {
    const std::string why = image.message;
    png_image_free(&image);
    throw format_error(name + ": not a valid PNG image (" + why + "); replace or remove the file");
  }
  try {
    check_image_size(image.width, image.height, "PNG", name);
  } catch (...) {
    png_image_free(&image);
    throw;
  }
  // Keep grey as grey and colour as colour; callers convert to the channel count they need.
  const bool colour = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  image.format = colour ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  out.width = static_cast<int32_t>(image.width);
  out.height = static_cast<int32_t>(image.height);
  out.channels = colour ? 3 : 1;
  // Zero-filled: compositing away an alpha channel happens onto these (black) pixels.
  out.pixels.assign(PNG_IMAGE_SIZE(image), 0);
  if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr)) {
    const std::string why = image.message;
    png_image_free(&image);
    throw format_error(name + ": PNG image is damaged (" + why + "); replace or remove the file");
  }
}

}  // namespace mamlpp::data
