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

// The most pixels (width x height) a file may claim: 8192 x 8192. Both decoders check the size a
// header claims before allocating anything for the pixels, so a small file that claims a huge
// image (a decompression bomb: 1 KB claiming 65500 x 65500 would need 12.9 GB) is refused at once
// with a Format error naming the file, the claimed size and this limit.
constexpr uint64_t kMaxImagePixels = uint64_t{1} << 26;

// Throws the Format error above when width x height exceeds kMaxImagePixels.
void check_image_size(uint64_t width, uint64_t height, const char* format, const std::string& name);

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
