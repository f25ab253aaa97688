// JPEG through libjpeg(-turbo). libjpeg reports fatal errors by calling error_exit, which must not
// return; we longjmp back to decode_jpeg. Only C frames (libjpeg's) and this function's trivially
// destructible locals lie between setjmp and longjmp, so no C++ destructor is skipped.
// jpeglib.h uses size_t and FILE without including their headers.
#include <cstddef>
#include <cstdio>
#include <csetjmp>
#include <cstring>

#include <jpeglib.h>

#include "common/error.hpp"
#include "data/image_decode.hpp"

namespace mamlpp::data {
namespace {

struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  // Set instead of message when the header claims more pixels than kMaxImagePixels.
  bool too_large = false;
  uint64_t width = 0, height = 0;
};

void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void silent(j_common_ptr, int) {}  // warnings (e.g. extraneous bytes) are not worth a crash

// Returns false with `err.message` set on failure. `out` is only resized through its pointer.
bool decode(const uint8_t* data, size_t size, Image8* out, ErrorManager& err) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = on_error;
  err.base.emit_message = silent;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  // Before jpeg_start_decompress, which allocates for the whole frame (progressive files) and
  // before the pixel buffer: the header alone may claim an image no memory holds.
  if (static_cast<uint64_t>(cinfo.image_width) * cinfo.image_height > kMaxImagePixels) {
    err.too_large = true;
    err.width = cinfo.image_width;
    err.height = cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  // Grey stays grey; YCbCr, CMYK and friends become RGB.
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  out->width = static_cast<int32_t>(cinfo.output_width);
  out->height = static_cast<int32_t>(cinfo.output_height);
  out->channels = cinfo.output_components;
  try {
    out->pixels.resize(static_cast<size_t>(out->width) * out->height * out->channels);
  } catch (...) {  // std::bad_alloc: libjpeg's own memory goes too
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  const size_t stride = static_cast<size_t>(out->width) * out->channels;
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + cinfo.output_scanline * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

bool has_jpeg_signature(const uint8_t* data, size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

void decode_jpeg(const uint8_t* data, size_t size, const std::string& name, Image8& out) {
  ErrorManager err;
  err.message[0] = '\0';
  if (!decode(data, size, &out, err)) {
    if (err.too_large) check_image_size(err.width, err.height, "JPEG", name);
    throw format_error(name + ": not a valid JPEG image (" + err.message +
                       "); replace or remove the file");
  }
  if (out.channels != 1 && out.channels != 3)
    throw format_error(name + ": JPEG with " + std::to_string(out.channels) +
                       " channels is not supported; convert it to RGB or grey");
}

}  // namespace mamlpp::data
