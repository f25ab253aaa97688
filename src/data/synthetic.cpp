#include "data/synthetic.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "common/error.hpp"
#include "common/parallel.hpp"
#include "data/rng.hpp"

namespace mamlpp::data {
namespace {

constexpr uint64_t kPrototypeStream = 0x70726f746f747970ull;  // separates prototype and example draws
constexpr uint64_t kExampleStream = 0x6578616d706c6573ull;
constexpr int32_t kMaxStrokes = 4;
constexpr int32_t kSegments = 12;  // line segments per Bezier stroke

struct Point {
  float x, y;  // canvas fractions, [0, 1] spans the image
};

struct Stroke {
  std::array<Point, 3> control;
  float width;                  // fraction of the shorter image side
  std::array<float, 3> colour;  // per channel (channels beyond 3 reuse them cyclically)
};

struct Prototype {
  int32_t strokes = 0;
  std::array<Stroke, kMaxStrokes> stroke;
};

Prototype make_prototype(const SyntheticOptions& o, int32_t cls) {
  Rng rng(derive_seed(o.seed ^ kPrototypeStream, static_cast<uint64_t>(cls)));
  Prototype p;
  p.strokes = 2 + static_cast<int32_t>(rng.below(3));
  for (int32_t s = 0; s < p.strokes; ++s) {
    Stroke& st = p.stroke[s];
    for (auto& c : st.control) c = {rng.uniform(0.15f, 0.85f), rng.uniform(0.15f, 0.85f)};
    st.width = rng.uniform(0.05f, 0.08f);
    for (auto& c : st.colour) c = o.shape.channels == 1 ? 1.0f : rng.uniform(0.35f, 1.0f);
  }
  return p;
}

// Distance from (px, py) to the segment a-b, all in pixels.
float segment_distance(float px, float py, float ax, float ay, float bx, float by) {
  const float dx = bx - ax, dy = by - ay;
  const float len2 = dx * dx + dy * dy;
  float t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0.0f;
  t = std::clamp(t, 0.0f, 1.0f);
  const float ex = ax + t * dx - px, ey = ay + t * dy - py;
  return std::sqrt(ex * ex + ey * ey);
}

// Draws a quadratic Bezier stroke through q (pixels) of half-width `half` into `out`, keeping the
// brighter value where strokes overlap. Pixels within half + 1 of the curve: a one-pixel
// antialiased edge.
void draw_stroke(float* out, const ImageShape& shape, const std::array<Point, 3>& q, float half,
                 const std::array<float, 3>& colour) {
  const int32_t H = shape.height, W = shape.width, C = shape.channels;
  const int64_t plane = int64_t{H} * W;
  Point prev = q[0];
  for (int32_t seg = 1; seg <= kSegments; ++seg) {
    const float t = static_cast<float>(seg) / kSegments, u = 1.0f - t;
    const Point cur = {u * u * q[0].x + 2 * u * t * q[1].x + t * t * q[2].x,
                       u * u * q[0].y + 2 * u * t * q[1].y + t * t * q[2].y};
    const float reach = half + 1.0f;
    const int32_t x0 = std::max(0, static_cast<int32_t>(std::floor(std::min(prev.x, cur.x) - reach)));
    const int32_t x1 = std::min(W - 1, static_cast<int32_t>(std::ceil(std::max(prev.x, cur.x) + reach)));
    const int32_t y0 = std::max(0, static_cast<int32_t>(std::floor(std::min(prev.y, cur.y) - reach)));
    const int32_t y1 = std::min(H - 1, static_cast<int32_t>(std::ceil(std::max(prev.y, cur.y) + reach)));
    for (int32_t y = y0; y <= y1; ++y) {
      for (int32_t x = x0; x <= x1; ++x) {
        const float d = segment_distance(x + 0.5f, y + 0.5f, prev.x, prev.y, cur.x, cur.y);
        const float ink = std::clamp(half + 0.5f - d, 0.0f, 1.0f);
        if (ink <= 0) continue;
        for (int32_t c = 0; c < C; ++c) {
          float& px = out[c * plane + int64_t{y} * W + x];
          px = std::max(px, ink * colour[c % 3]);
        }
      }
    }
    prev = cur;
  }
}

}  // namespace

void render_synthetic(const SyntheticOptions& o, int32_t cls, int32_t example, float* out) {
  const ImageShape& shape = o.shape;
  const int32_t H = shape.height, W = shape.width, C = shape.channels;
  std::fill(out, out + shape.numel(), 0.0f);

  const Prototype proto = make_prototype(o, cls);
  Rng rng(derive_seed(o.seed ^ kExampleStream,
                      (static_cast<uint64_t>(static_cast<uint32_t>(cls)) << 32) |
                          static_cast<uint32_t>(example)));
  // One similarity transform per example, about the canvas centre.
  const float shift_x = rng.uniform(-o.max_shift, o.max_shift);
  const float shift_y = rng.uniform(-o.max_shift, o.max_shift);
  const float angle = rng.uniform(-o.max_rotation, o.max_rotation);
  const float scale = rng.uniform(1.0f - o.scale_jitter, 1.0f + o.scale_jitter);
  const float ca = std::cos(angle) * scale, sa = std::sin(angle) * scale;
  const float side = static_cast<float>(std::min(H, W));

  for (int32_t s = 0; s < proto.strokes; ++s) {
    const Stroke& st = proto.stroke[s];
    std::array<Point, 3> q;  // jittered, transformed control points, in pixels
    for (int32_t k = 0; k < 3; ++k) {
      const float x = st.control[k].x + o.stroke_jitter * rng.normal() - 0.5f;
      const float y = st.control[k].y + o.stroke_jitter * rng.normal() - 0.5f;
      q[k] = {(ca * x - sa * y + 0.5f + shift_x) * W, (sa * x + ca * y + 0.5f + shift_y) * H};
    }
    const float half = 0.5f * st.width * side * rng.uniform(0.85f, 1.15f);
    std::array<float, 3> colour = st.colour;
    if (C > 1)
      for (auto& c : colour) c = std::min(1.0f, c * rng.uniform(0.85f, 1.15f));
    draw_stroke(out, shape, q, half, colour);
  }
  // Clutter: short, faint strokes anywhere, unrelated to the class. A model can learn to ignore
  // them (they are fainter and shorter than the class's strokes); raw pixels and random features
  // cannot.
  for (int32_t s = 0; s < o.clutter; ++s) {
    const Point start = {rng.uniform(0.05f, 0.95f) * W, rng.uniform(0.05f, 0.95f) * H};
    std::array<Point, 3> q;
    for (auto& p : q)
      p = {start.x + rng.uniform(-0.12f, 0.12f) * side, start.y + rng.uniform(-0.12f, 0.12f) * side};
    const float half = 0.5f * rng.uniform(0.04f, 0.07f) * side;
    std::array<float, 3> colour;
    for (auto& c : colour) c = o.clutter_intensity * rng.uniform(0.8f, 1.0f);
    draw_stroke(out, shape, q, half, colour);
  }
  // A smooth random background ramp (uneven lighting), then pixel noise.
  if (o.background > 0) {
    const float level = rng.uniform(-o.background, o.background);
    const float gx = rng.uniform(-o.background, o.background);
    const float gy = rng.uniform(-o.background, o.background);
    const int64_t plane = int64_t{H} * W;
    for (int32_t y = 0; y < H; ++y)
      for (int32_t x = 0; x < W; ++x) {
        const float v = level + gx * ((x + 0.5f) / W - 0.5f) + gy * ((y + 0.5f) / H - 0.5f);
        for (int32_t c = 0; c < C; ++c) out[c * plane + int64_t{y} * W + x] += v;
      }
  }
  if (o.noise > 0)
    for (int64_t i = 0; i < shape.numel(); ++i) out[i] += o.noise * rng.approx_normal();
}

ImageDataset make_synthetic(const SyntheticOptions& o) {
  if (o.num_classes < 1 || o.images_per_class < 1)
    throw invalid_argument("synthetic data needs at least one class and one image per class, got " +
                           std::to_string(o.num_classes) + " classes x " +
                           std::to_string(o.images_per_class) + " images");
  if (o.shape.channels < 1 || o.shape.height < 4 || o.shape.width < 4)
    throw invalid_argument("synthetic images must have >= 1 channel and be at least 4x4, got " +
                           to_string(o.shape));
  std::vector<std::string> names(o.num_classes);
  char buf[32];
  for (int32_t c = 0; c < o.num_classes; ++c) {
    std::snprintf(buf, sizeof buf, "synthetic/%05d", c);
    names[c] = buf;
  }
  ImageDataset ds(o.shape, std::move(names), std::vector<int32_t>(o.num_classes, o.images_per_class),
                  "synthetic(seed=" + std::to_string(o.seed) + ", " + to_string(o.shape) + ")");
  const int64_t total = int64_t{o.num_classes} * o.images_per_class;
  parallel_for(total, o.threads, [&](int64_t k, int32_t) {
    const auto c = static_cast<int32_t>(k / o.images_per_class);
    const auto i = static_cast<int32_t>(k % o.images_per_class);
    render_synthetic(o, c, i, ds.mutable_image(c, i));
  });
  return ds;
}

}  // namespace mamlpp::data
