#include "data/rotate.hpp"

#include <cstring>

namespace mamlpp::data {

void rotate_quarter_turns(const float* src, float* dst, int32_t channels, int32_t size, int32_t k) {
  const int32_t n = size;
  const int64_t plane = int64_t{n} * n;
  k = ((k % 4) + 4) % 4;
  if (k == 0) {
    std::memcpy(dst, src, sizeof(float) * plane * channels);
    return;
  }
  // Counter-clockwise: out[i][j] = in[j][n-1-i] (k=1), in[n-1-i][n-1-j] (k=2), in[n-1-j][i] (k=3).
  // One loop per k keeps the inner loops branch-free.
  for (int32_t c = 0; c < channels; ++c) {
    const float* s = src + c * plane;
    float* d = dst + c * plane;
    if (k == 2) {
      for (int64_t p = 0; p < plane; ++p) d[p] = s[plane - 1 - p];
    } else if (k == 1) {
      for (int32_t i = 0; i < n; ++i)
        for (int32_t j = 0; j < n; ++j) d[int64_t{i} * n + j] = s[int64_t{j} * n + (n - 1 - i)];
    } else {
      for (int32_t i = 0; i < n; ++i)
        for (int32_t j = 0; j < n; ++j) d[int64_t{i} * n + j] = s[int64_t{n - 1 - j} * n + i];
    }
  }
}

}  // namespace mamlpp::data
