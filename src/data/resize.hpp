// Turning decoded 8-bit images into the float32 CHW images of a dataset.
#pragma once

#include "data/dataset.hpp"
#include "data/image_decode.hpp"

namespace mamlpp::data {

enum class ResizeFilter {
  // Output pixel (x, y) copies source pixel (floor((x + 0.5) * W_in / W_out), same for y): the
  // pixel-centre rule of PIL's NEAREST, which the MAML++ reference gets for 1-bit Omniglot PNGs.
  // Keeps binary images binary.
  Nearest,
  // Triangle filter on pixel centres (align_corners = false). When shrinking, the filter widens by
  // the scale factor, so every source pixel contributes (antialiased, like PIL's BILINEAR);
  // when enlarging it is plain bilinear interpolation.
  Bilinear,
};

// Converts `in` to `shape.channels` channels (grey -> RGB repeats the grey value; RGB -> grey is
// the ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B, as PIL's convert("L")), resizes it to
// shape.height x shape.width with `filter`, and writes shape.numel() floats in [0, 1], CHW, to `out`.
void to_float_chw(const Image8& in, const ImageShape& shape, ResizeFilter filter, float* out);

// Resizes one float plane (h_in x w_in, row-major) to h_out x w_out.
void resize_plane(const float* in, int32_t h_in, int32_t w_in, float* out, int32_t h_out,
                  int32_t w_out, ResizeFilter filter);

}  // namespace mamlpp::data
