#include "data/resize.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "common/error.hpp"

namespace mamlpp::data {
namespace {

// The source index nearest to output index `o` under the pixel-centre rule, in exact integers:
// floor((o + 0.5) * in / out) = floor((2o + 1) * in / (2 out)).
int32_t nearest_source(int32_t o, int32_t in, int32_t out) {
  const int64_t s = (int64_t{2} * o + 1) * in / (int64_t{2} * out);
  return static_cast<int32_t>(std::min<int64_t>(s, in - 1));
}

// Per output index: the first contributing source index and normalised weights.
struct Taps {
  std::vector<int32_t> first;
  std::vector<int32_t> count;
  std::vector<float> weights;  // `width` per output index
  int32_t width = 0;
};

Taps triangle_taps(int32_t in, int32_t out) {
  const double scale = static_cast<double>(in) / out;
  const double stretch = std::max(scale, 1.0);  // widen the filter when shrinking
  const double support = stretch;                // triangle support 1, stretched
  Taps t;
  t.width = static_cast<int32_t>(std::ceil(support)) * 2 + 1;
  t.first.resize(out);
  t.count.resize(out);
  t.weights.assign(static_cast<size_t>(out) * t.width, 0.0f);
  for (int32_t o = 0; o < out; ++o) {
    const double centre = (o + 0.5) * scale;
    const int32_t lo = std::max(0, static_cast<int32_t>(std::floor(centre - support + 0.5)));
    const int32_t hi = std::min(in, static_cast<int32_t>(std::floor(centre + support + 0.5)));
    double total = 0;
    std::vector<double> w;
    for (int32_t s = lo; s < hi; ++s) {
      const double d = std::abs((s + 0.5 - centre) / stretch);
      w.push_back(std::max(0.0, 1.0 - d));
      total += w.back();
    }
    int32_t n = static_cast<int32_t>(w.size());
    assert(n <= t.width);
    t.first[o] = lo;
    t.count[o] = n;
    for (int32_t k = 0; k < n; ++k)
      t.weights[static_cast<size_t>(o) * t.width + k] =
          static_cast<float>(total > 0 ? w[k] / total : (k == 0 ? 1.0 : 0.0));
  }
  return t;
}

}  // namespace

void resize_plane(const float* in, int32_t h_in, int32_t w_in, float* out, int32_t h_out,
                  int32_t w_out, ResizeFilter filter) {
  if (h_in == h_out && w_in == w_out) {
    std::copy(in, in + int64_t{h_in} * w_in, out);
    return;
  }
  if (filter == ResizeFilter::Nearest) {
    std::vector<int32_t> sx(w_out);
    for (int32_t x = 0; x < w_out; ++x) sx[x] = nearest_source(x, w_in, w_out);
    for (int32_t y = 0; y < h_out; ++y) {
      const float* row = in + int64_t{nearest_source(y, h_in, h_out)} * w_in;
      for (int32_t x = 0; x < w_out; ++x) out[int64_t{y} * w_out + x] = row[sx[x]];
    }
    return;
  }
  // Separable: rows first (h_in x w_out), then columns.
  const Taps tx = triangle_taps(w_in, w_out);
  const Taps ty = triangle_taps(h_in, h_out);
  std::vector<float> tmp(static_cast<size_t>(h_in) * w_out);
  for (int32_t y = 0; y < h_in; ++y) {
    const float* row = in + int64_t{y} * w_in;
    for (int32_t x = 0; x < w_out; ++x) {
      const float* w = &tx.weights[static_cast<size_t>(x) * tx.width];
      const float* src = row + tx.first[x];
      float acc = 0;
      for (int32_t k = 0; k < tx.count[x]; ++k) acc += w[k] * src[k];
      tmp[static_cast<size_t>(y) * w_out + x] = acc;
    }
  }
  for (int32_t y = 0; y < h_out; ++y) {
    const float* w = &ty.weights[static_cast<size_t>(y) * ty.width];
    float* dst = out + int64_t{y} * w_out;
    std::fill(dst, dst + w_out, 0.0f);
    for (int32_t k = 0; k < ty.count[y]; ++k) {
      const float* src = &tmp[static_cast<size_t>(ty.first[y] + k) * w_out];
      for (int32_t x = 0; x < w_out; ++x) dst[x] += w[k] * src[x];
    }
  }
}

void to_float_chw(const Image8& in, const ImageShape& shape, ResizeFilter filter, float* out) {
  if (in.channels != 1 && in.channels != 3)
    throw invalid_argument("to_float_chw: images must have 1 or 3 channels, not " +
                           std::to_string(in.channels));
  if (shape.channels != 1 && shape.channels != 3)
    throw invalid_argument("image channels must be 1 (grey) or 3 (RGB), not " +
                           std::to_string(shape.channels));
  const int64_t plane = int64_t{in.width} * in.height;
  if (filter == ResizeFilter::Nearest) {
    // Only the sampled source pixels matter: convert those alone (Omniglot: 784 of 11025).
    const int32_t H = shape.height, W = shape.width;
    const int64_t out_plane = int64_t{H} * W;
    thread_local std::vector<int32_t> sx;
    sx.resize(W);
    for (int32_t x = 0; x < W; ++x) sx[x] = nearest_source(x, in.width, W);
    const uint8_t* p = in.pixels.data();
    constexpr float k = 1.0f / 255.0f;
    for (int32_t y = 0; y < H; ++y) {
      const uint8_t* row = p + int64_t{nearest_source(y, in.height, H)} * in.width * in.channels;
      for (int32_t x = 0; x < W; ++x) {
        const uint8_t* px = row + int64_t{sx[x]} * in.channels;
        const int64_t o = int64_t{y} * W + x;
        if (in.channels == shape.channels) {
          for (int32_t c = 0; c < shape.channels; ++c) out[c * out_plane + o] = px[c] * k;
        } else if (in.channels == 1) {
          out[o] = out[out_plane + o] = out[2 * out_plane + o] = px[0] * k;
        } else {
          out[o] = (0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2]) * k;
        }
      }
    }
    return;
  }
  // Planar float at the source size, already in the target channel count.
  thread_local std::vector<float> planes;
  planes.resize(static_cast<size_t>(plane * shape.channels));
  const uint8_t* p = in.pixels.data();
  constexpr float k = 1.0f / 255.0f;
  if (in.channels == shape.channels) {
    for (int64_t i = 0; i < plane; ++i)
      for (int32_t c = 0; c < shape.channels; ++c)
        planes[c * plane + i] = p[i * in.channels + c] * k;
  } else if (in.channels == 1) {  // grey -> RGB
    for (int64_t i = 0; i < plane; ++i) planes[i] = planes[plane + i] = planes[2 * plane + i] = p[i] * k;
  } else {  // RGB -> grey
    for (int64_t i = 0; i < plane; ++i)
      planes[i] = (0.299f * p[3 * i] + 0.587f * p[3 * i + 1] + 0.114f * p[3 * i + 2]) * k;
  }
  const int64_t out_plane = int64_t{shape.height} * shape.width;
  for (int32_t c = 0; c < shape.channels; ++c)
    resize_plane(&planes[c * plane], in.height, in.width, out + c * out_plane, shape.height,
                 shape.width, filter);
}

}  // namespace mamlpp::data
