// Episode sampler invariants, on synthetic data (fast, no files).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "data/rotate.hpp"
#include "data/sampler.hpp"
#include "data/splits.hpp"
#include "data/synthetic.hpp"

namespace mamlpp::data {
namespace {

std::shared_ptr<const ImageDataset> dataset() {
  static const auto ds = [] {
    SyntheticOptions o;
    o.num_classes = 60;
    o.images_per_class = 8;
    o.seed = 1;
    return std::make_shared<const ImageDataset>(make_synthetic(o));
  }();
  return ds;
}

EpisodeOptions options(int n, int k, int q, int b, bool rotate = false, uint64_t seed = 3) {
  EpisodeOptions e;
  e.n_way = n;
  e.k_shot = k;
  e.q_query = q;
  e.num_tasks = b;
  e.augment_rotations = rotate;
  e.seed = seed;
  return e;
}

bool same(const MetaBatch& a, const MetaBatch& b) {
  return a.num_tasks == b.num_tasks && a.support_size == b.support_size &&
         a.query_size == b.query_size && a.support_x == b.support_x && a.support_y == b.support_y &&
         a.query_x == b.query_x && a.query_y == b.query_y && a.classes == b.classes &&
         a.rotations == b.rotations;
}

// Every structural invariant of one batch, plus its pixels against the dataset.
void check_batch(const EpisodeSampler& s, const MetaBatch& b) {
  const EpisodeOptions& o = s.options();
  const ImageDataset& ds = s.dataset();
  const int N = o.n_way, K = o.k_shot, Q = o.q_query, B = o.num_tasks;
  const int64_t numel = ds.shape().numel();
  ASSERT_EQ(b.num_tasks, B);
  ASSERT_EQ(b.support_size, N * K);
  ASSERT_EQ(b.query_size, N * Q);
  ASSERT_EQ(b.support_x.size(), static_cast<size_t>(B * N * K * numel));
  ASSERT_EQ(b.query_x.size(), static_cast<size_t>(B * N * Q * numel));
  ASSERT_EQ(b.support_y.size(), static_cast<size_t>(B * N * K));
  ASSERT_EQ(b.query_y.size(), static_cast<size_t>(B * N * Q));
  std::set<ClassRef> split(s.split().classes.begin(), s.split().classes.end());
  std::vector<float> rotated(numel);
  for (int t = 0; t < B; ++t) {
    std::vector<int> support_count(N, 0), query_count(N, 0);
    std::set<int> task_classes, task_labels;
    for (int e = 0; e < N * K; ++e) {
      const int y = b.support_y[t * N * K + e];
      ASSERT_GE(y, 0);
      ASSERT_LT(y, N);
      ++support_count[y];
    }
    for (int e = 0; e < N * Q; ++e) {
      const int y = b.query_y[t * N * Q + e];
      ASSERT_GE(y, 0);
      ASSERT_LT(y, N);
      ++query_count[y];
    }
    for (int c = 0; c < N; ++c) {
      EXPECT_EQ(support_count[c], K);
      EXPECT_EQ(query_count[c], Q);
    }
    for (int j = 0; j < N; ++j) {
      const int slot = t * N + j;
      const int cls = b.classes[slot], rot = b.rotations[slot];
      task_classes.insert(cls);
      task_labels.insert(b.labels[slot]);
      if (!o.augment_rotations) {
        EXPECT_TRUE(split.count({cls, rot}));
      }
      std::set<int> images;
      auto check_example = [&](bool support, int e) {
        const int64_t idx = support ? (int64_t{t} * N + j) * K + e : (int64_t{t} * N + j) * Q + e;
        const int img = support ? b.support_images[idx] : b.query_images[idx];
        EXPECT_EQ(support ? b.support_y[idx] : b.query_y[idx], b.labels[slot]);
        images.insert(img);
        // The pixels are the dataset image under the slot's rotation: one rotation per class.
        rotate_quarter_turns(ds.image(cls, img), rotated.data(), ds.channels(), ds.height(), rot);
        const float* got = (support ? b.support_x.data() : b.query_x.data()) + idx * numel;
        EXPECT_TRUE(std::equal(rotated.begin(), rotated.end(), got));
      };
      for (int e = 0; e < K; ++e) check_example(true, e);
      for (int e = 0; e < Q; ++e) check_example(false, e);
      EXPECT_EQ(images.size(), static_cast<size_t>(K + Q)) << "examples of a class must be distinct";
    }
    EXPECT_EQ(task_classes.size(), static_cast<size_t>(N)) << "classes of a task must be distinct";
    EXPECT_EQ(task_labels.size(), static_cast<size_t>(N));
  }
}

TEST(Sampler, InvariantsHoldForManyConfigurations) {
  const auto ds = dataset();
  const SplitSet splits = sequential_split(*ds, 40, 5, 15);
  for (auto o : {options(5, 1, 1, 8), options(5, 5, 3, 2), options(20, 1, 1, 4),
                 options(15, 3, 5, 1), options(5, 1, 1, 8, true)}) {
    const EpisodeSampler s(ds, splits.train, o);
    for (int i = 0; i < 5; ++i) check_batch(s, s.batch(i));
  }
}

TEST(Sampler, LabelsArePermutedAndOrderIsClassMajor) {
  const auto ds = dataset();
  const EpisodeSampler s(ds, whole_dataset(*ds), options(5, 2, 1, 50));
  const MetaBatch b = s.batch(0);
  int identity = 0;
  for (int t = 0; t < 50; ++t) {
    bool same_order = true;
    for (int j = 0; j < 5; ++j) same_order = same_order && b.labels[t * 5 + j] == j;
    identity += same_order;
    // Support: slot j's K examples are contiguous.
    for (int j = 0; j < 5; ++j)
      EXPECT_EQ(b.support_y[t * 10 + 2 * j], b.support_y[t * 10 + 2 * j + 1]);
  }
  EXPECT_LT(identity, 5);  // 1/120 each
}

TEST(Sampler, DeterministicForASeedAndDifferentAcrossSeeds) {
  const auto ds = dataset();
  const Split all = whole_dataset(*ds);
  const EpisodeSampler a(ds, all, options(5, 1, 2, 4, true, 11));
  const EpisodeSampler b(ds, all, options(5, 1, 2, 4, true, 11));
  const EpisodeSampler c(ds, all, options(5, 1, 2, 4, true, 12));
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(same(a.batch(i), b.batch(i)));
    EXPECT_FALSE(same(a.batch(i), c.batch(i)));
    EXPECT_FALSE(same(a.batch(i), a.batch(i + 1)));
  }
  // Re-filling a used buffer gives the same bytes as a fresh one.
  MetaBatch reused = a.batch(7);
  a.fill(2, reused);
  EXPECT_TRUE(same(reused, a.batch(2)));
}

TEST(Sampler, BatchIsAPureFunctionOfSeedAndIndexWhateverTheThread) {
  const auto ds = dataset();
  const EpisodeSampler s(ds, whole_dataset(*ds), options(5, 1, 1, 8, true));
  const int n = 24;
  std::vector<MetaBatch> serial(n), threaded(n);
  for (int i = 0; i < n; ++i) s.fill(i, serial[i]);
  std::vector<std::thread> pool;
  for (int w = 0; w < 4; ++w)
    pool.emplace_back([&, w] {
      for (int i = n - 1 - w; i >= 0; i -= 4) s.fill(i, threaded[i]);  // backwards, interleaved
    });
  for (auto& t : pool) t.join();
  for (int i = 0; i < n; ++i) EXPECT_TRUE(same(serial[i], threaded[i])) << "batch " << i;
}

TEST(Sampler, TasksDoNotDependOnBatchSize) {
  const auto ds = dataset();
  const Split all = whole_dataset(*ds);
  const EpisodeSampler by4(ds, all, options(5, 1, 1, 4));
  const EpisodeSampler by2(ds, all, options(5, 1, 1, 2));
  const MetaBatch a = by4.batch(1), b = by2.batch(3);  // tasks 4..7 and 6..7
  const size_t half_x = a.support_x.size() / 2;
  EXPECT_TRUE(std::equal(b.support_x.begin(), b.support_x.end(), a.support_x.begin() + half_x));
}

TEST(Sampler, RotationAugmentationRotatesWholeClasses) {
  const auto ds = dataset();
  const EpisodeSampler s(ds, whole_dataset(*ds), options(5, 2, 2, 16, true));
  const MetaBatch b = s.batch(0);
  check_batch(s, b);  // pixels of every example equal their class's image under the slot rotation
  std::set<int> seen(b.rotations.begin(), b.rotations.end());
  EXPECT_EQ(seen.size(), 4u);  // all four rotations occur over 80 classes
  // Without augmentation the same classes and images are drawn, unrotated.
  const EpisodeSampler plain(ds, whole_dataset(*ds), options(5, 2, 2, 16, false));
  const MetaBatch p = plain.batch(0);
  EXPECT_EQ(p.classes, b.classes);
  EXPECT_EQ(p.support_images, b.support_images);
  for (int r : p.rotations) EXPECT_EQ(r, 0);
}

TEST(Sampler, SplitRotationsAreApplied) {
  const auto ds = dataset();
  Split rotated{"rot", {}};
  for (int c = 0; c < 10; ++c) rotated.classes.push_back({c, c % 4});
  const EpisodeSampler s(ds, rotated, options(5, 1, 1, 4));
  const MetaBatch b = s.batch(0);
  check_batch(s, b);
  for (size_t j = 0; j < b.classes.size(); ++j) EXPECT_EQ(b.rotations[j], b.classes[j] % 4);
}

TEST(Sampler, EvaluationSetIsFixedAndCutIntoBatches) {
  const auto ds = dataset();
  const Split test = sequential_split(*ds, 40, 5, 15).test;
  auto o = options(5, 1, 1, 8, true, 600);
  const auto a = evaluation_batches(ds, test, o, 20);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].num_tasks, 8);
  EXPECT_EQ(a[2].num_tasks, 4);
  for (const auto& b : a)
    for (int r : b.rotations) EXPECT_EQ(r, 0);  // never augmented
  o.num_tasks = 5;
  const auto c = evaluation_batches(ds, test, o, 20);
  ASSERT_EQ(c.size(), 4u);
  // Task 5 is the same whichever batch size served it.
  const size_t per_task = a[0].support_x.size() / 8;
  EXPECT_TRUE(std::equal(c[1].support_x.begin(), c[1].support_x.begin() + per_task,
                         a[0].support_x.begin() + 5 * per_task));
}

TEST(Sampler, RejectsBadOptionsAndSplits) {
  const auto ds = dataset();
  EXPECT_THROW(EpisodeSampler(ds, whole_dataset(*ds), options(0, 1, 1, 1)), Error);
  EXPECT_THROW(EpisodeSampler(ds, whole_dataset(*ds), options(5, 1, 0, 1)), Error);
  EXPECT_THROW(EpisodeSampler(ds, whole_dataset(*ds), options(5, 1, 1, 0)), Error);
  EXPECT_THROW(EpisodeSampler(ds, whole_dataset(*ds), options(61, 1, 1, 1)), Error);
  EXPECT_THROW(EpisodeSampler(ds, whole_dataset(*ds), options(5, 4, 5, 1)), Error);  // 9 > 8 images
  Split twice{"dup", {{1, 0}, {1, 0}, {2, 0}}};
  EXPECT_THROW(EpisodeSampler(ds, twice, options(2, 1, 1, 1)), Error);
  Split outside{"bad", {{1, 0}, {999, 0}}};
  EXPECT_THROW(EpisodeSampler(ds, outside, options(2, 1, 1, 1)), Error);
  EXPECT_THROW(EpisodeSampler(nullptr, outside, options(2, 1, 1, 1)), Error);
}

TEST(Sampler, SequentialSplitIsDisjoint) {
  const auto ds = dataset();
  const SplitSet s = sequential_split(*ds, 40, 5, 15);
  EXPECT_EQ(s.train.size(), 40);
  EXPECT_EQ(s.val.size(), 5);
  EXPECT_EQ(s.test.size(), 15);
  EXPECT_NO_THROW(check_disjoint(*ds, s));
  SplitSet bad = s;
  bad.test.classes.push_back(s.train.classes[3]);
  EXPECT_THROW(check_disjoint(*ds, bad), Error);
  EXPECT_THROW(sequential_split(*ds, 50, 5, 15), Error);
}

}  // namespace
}  // namespace mamlpp::data
