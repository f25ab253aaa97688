// The built-in synthetic few-shot problem.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "data/sampler.hpp"
#include "data/splits.hpp"
#include "data/synthetic.hpp"

namespace mamlpp::data {
namespace {

SyntheticOptions small_options() {
  SyntheticOptions o;
  o.num_classes = 120;
  o.images_per_class = 10;
  o.seed = 5;
  return o;
}

TEST(Synthetic, DeterministicPerSeedClassAndExample) {
  const SyntheticOptions o = small_options();
  std::vector<float> a(o.shape.numel()), b(o.shape.numel());
  render_synthetic(o, 17, 3, a.data());
  render_synthetic(o, 17, 3, b.data());
  EXPECT_EQ(a, b);
  render_synthetic(o, 17, 4, b.data());
  EXPECT_NE(a, b);  // another example of the class
  SyntheticOptions other = o;
  other.seed = 6;
  render_synthetic(other, 17, 3, b.data());
  EXPECT_NE(a, b);  // another seed

  // Thread count does not change the data.
  SyntheticOptions one = o, two = o;
  one.threads = 1;
  two.threads = 2;
  const ImageDataset x = make_synthetic(one), y = make_synthetic(two);
  ASSERT_EQ(x.total_images(), 1200);
  for (int32_t c = 0; c < x.num_classes(); c += 7)
    for (int32_t i = 0; i < x.num_images(c); ++i)
      ASSERT_TRUE(std::equal(x.image(c, i), x.image(c, i) + o.shape.numel(), y.image(c, i)));
  EXPECT_EQ(x.class_name(42), "synthetic/00042");
}

TEST(Synthetic, AnyShapeAndChannels) {
  SyntheticOptions o = small_options();
  o.num_classes = 3;
  o.shape = {3, 20, 32};
  const ImageDataset ds = make_synthetic(o);
  EXPECT_EQ(ds.shape(), (ImageShape{3, 20, 32}));
  // Strokes are drawn: some pixels are bright on every channel's plane.
  for (int c = 0; c < 3; ++c) {
    const float* plane = ds.image(1, 0) + c * 20 * 32;
    EXPECT_GT(*std::max_element(plane, plane + 20 * 32), 0.3f);
  }
}

TEST(Synthetic, ImagesAreSparseStrokesOnDarkBackground) {
  SyntheticOptions o = small_options();
  o.clutter = 0;
  o.background = 0;
  const ImageDataset ds = make_synthetic(o);
  double ink = 0;
  const int64_t n = ds.shape().numel();
  for (int32_t c = 0; c < 20; ++c) {
    const float* p = ds.image(c, 0);
    ink += static_cast<double>(std::count_if(p, p + n, [](float v) { return v > 0.5f; })) / n;
  }
  ink /= 20;
  EXPECT_GT(ink, 0.03);
  EXPECT_LT(ink, 0.30);
}

// Squared distance with the second image shifted by (dy, dx), zero outside.
double shifted_distance(const float* a, const float* b, int h, int w, int dy, int dx) {
  double d = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int yy = y + dy, xx = x + dx;
      const float bv = (yy >= 0 && yy < h && xx >= 0 && xx < w) ? b[yy * w + xx] : 0.0f;
      d += (a[y * w + x] - bv) * (a[y * w + x] - bv);
    }
  return d;
}

// 1-nearest-neighbour accuracy on 5-way 1-shot tasks of held-out classes, on raw pixels, or made
// invariant by hand to what a network can learn to ignore: each image's mean removed, then the
// best distance over shifts of up to 2 pixels.
double nearest_neighbour_accuracy(bool invariant) {
  auto ds = std::make_shared<const ImageDataset>(make_synthetic(small_options()));
  EpisodeOptions e;
  e.n_way = 5;
  e.num_tasks = 1;
  e.seed = 9;
  const EpisodeSampler sampler(ds, sequential_split(*ds, 60, 20, 40).test, e);
  int correct = 0, total = 0;
  const int h = 28, w = 28, n = h * w, shift = invariant ? 2 : 0;
  auto centred = [&](const float* p) {
    std::vector<float> v(p, p + n);
    if (!invariant) return v;
    double mean = 0;
    for (float x : v) mean += x;
    mean /= n;
    for (float& x : v) x -= static_cast<float>(mean);
    return v;
  };
  for (int t = 0; t < 100; ++t) {
    const MetaBatch b = sampler.batch(t);
    for (int q = 0; q < b.query_size; ++q) {
      const auto query = centred(&b.query_x[q * n]);
      double best = 1e30;
      int label = -1;
      for (int s = 0; s < b.support_size; ++s) {
        const auto support = centred(&b.support_x[s * n]);
        for (int dy = -shift; dy <= shift; ++dy)
          for (int dx = -shift; dx <= shift; ++dx) {
            const double d = shifted_distance(query.data(), support.data(), h, w, dy, dx);
            if (d < best) best = d, label = b.support_y[s];
          }
      }
      correct += label == b.query_y[q];
      ++total;
    }
  }
  return static_cast<double>(correct) / total;
}

TEST(Synthetic, IsAGenuineFewShotProblem) {
  // New classes are far from separable by raw pixel distance, yet there is structure to learn:
  // simple invariances (to lighting and small shifts) already help a lot. Chance is 0.2.
  const double raw = nearest_neighbour_accuracy(false);
  const double invariant = nearest_neighbour_accuracy(true);
  RecordProperty("raw_1nn", std::to_string(raw));
  RecordProperty("invariant_1nn", std::to_string(invariant));
  std::printf("5-way 1-shot 1-NN accuracy: raw pixels %.3f, lighting+shift invariant %.3f\n", raw,
              invariant);
  EXPECT_GT(raw, 0.25);
  EXPECT_LT(raw, 0.8);
  EXPECT_GT(invariant, raw + 0.1);
}

}  // namespace
}  // namespace mamlpp::data
