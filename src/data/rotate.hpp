// Rotation by quarter turns, for the Vinyals split's rotated classes and for training
// augmentation (MAML++: every class of a task rotated by a random multiple of 90 degrees).
#pragma once

#include <cstdint>

namespace mamlpp::data {

// Writes `src` (channels x size x size, CHW) rotated by k quarter turns counter-clockwise (the
// same as numpy's rot90(image, k) on each channel) to `dst`. Any integer k; k mod 4 = 0 copies.
// Square images only (the caller checks; a rectangle would change shape). src != dst.
void rotate_quarter_turns(const float* src, float* dst, int32_t channels, int32_t size, int32_t k);

}  // namespace mamlpp::data
