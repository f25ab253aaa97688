// Decoding PNG and JPEG files held in memory to 8-bit pixels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mamlpp::data {

// 8-bit pixels, rows top to bottom, channels interleaved (HWC): 1 = grey, 3 = RGB.
struct Image8 {
  int32_t width = 0;
  int32_t height = 0;
  int32_t channels = 0;
  std::vector<uint8_t> pixels;
};

// Grey files decode to 1 channel and colour files to 3 (alpha is composited onto black; 16-bit
// samples are reduced to 8). `name` is the file's path, used in errors (mamlpp::Error, Format):
// "<name>: not a valid PNG image (...); ...". `out`'s buffer is reused.
void decode_png(const uint8_t* data, size_t size, const std::string& name, Image8& out);
void decode_jpeg(const uint8_t* data, size_t size, const std::string& name, Image8& out);

// Picks the decoder from the file's first bytes (its signature), not from its name.
void decode_image(const uint8_t* data, size_t size, const std::string& name, Image8& out);

bool has_png_signature(const uint8_t* data, size_t size);
bool has_jpeg_signature(const uint8_t* data, size_t size);

}  // namespace mamlpp::data
