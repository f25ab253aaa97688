// Background prefetch: same batches as the plain sampler, in order, clean shutdown.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "common/error.hpp"
#include "data/prefetch.hpp"
#include "data/splits.hpp"
#include "data/synthetic.hpp"

namespace mamlpp::data {
namespace {

EpisodeSampler make_sampler(uint64_t seed = 4) {
  static const auto ds = [] {
    SyntheticOptions o;
    o.num_classes = 40;
    o.images_per_class = 6;
    return std::make_shared<const ImageDataset>(make_synthetic(o));
  }();
  EpisodeOptions e;
  e.n_way = 5;
  e.k_shot = 1;
  e.q_query = 2;
  e.num_tasks = 4;
  e.augment_rotations = true;
  e.seed = seed;
  return EpisodeSampler(ds, whole_dataset(*ds), e);
}

TEST(Prefetch, SameBatchesInIndexOrderForAnyWorkerCount) {
  const EpisodeSampler plain = make_sampler();
  for (int workers : {1, 2, 4}) {
    for (int capacity : {1, 3}) {
      PrefetchOptions o;
      o.workers = workers;
      o.capacity = capacity;
      o.first_batch = 5;
      o.num_batches = 12;
      Prefetcher p(plain, o);
      MetaBatch b;
      for (int i = 0; i < 12; ++i) {
        EXPECT_EQ(p.next_index(), 5 + i);
        ASSERT_TRUE(p.next(b));
        const MetaBatch want = plain.batch(5 + i);
        EXPECT_EQ(b.support_x, want.support_x) << workers << " workers, batch " << 5 + i;
        EXPECT_EQ(b.query_y, want.query_y);
        EXPECT_EQ(b.rotations, want.rotations);
      }
      EXPECT_FALSE(p.next(b));  // served all it was asked for
      EXPECT_FALSE(p.next(b));
      EXPECT_EQ(p.wait_stats().calls, 12);
    }
  }
}

TEST(Prefetch, RecordsWaitsAndFillsAheadOfASlowConsumer) {
  Prefetcher p(make_sampler(), PrefetchOptions{1, 2, 0, -1});
  MetaBatch b;
  ASSERT_TRUE(p.next(b));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the "trainer" works
  ASSERT_TRUE(p.next(b));  // already prepared: hardly any wait
  const WaitStats s = p.wait_stats();
  EXPECT_EQ(s.calls, 2);
  EXPECT_GE(s.total_seconds, 0.0);
  EXPECT_LT(s.last_seconds, 0.02);
  EXPECT_GE(s.max_seconds, s.last_seconds);
  EXPECT_NEAR(s.mean_seconds(), s.total_seconds / 2, 1e-12);
}

TEST(Prefetch, StopsCleanlyWhenTheConsumerStopsEarly) {
  // Destroying with workers blocked on a full ring, or mid-batch, or before any next(), must
  // neither hang nor leak (run under ASan/TSan to see the latter).
  for (int workers : {1, 3}) {
    { Prefetcher untouched(make_sampler(), PrefetchOptions{workers, 2, 0, -1}); }
    {
      Prefetcher p(make_sampler(), PrefetchOptions{workers, 2, 0, -1});
      MetaBatch b;
      ASSERT_TRUE(p.next(b));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the ring fill up
    }
  }
}

TEST(Prefetch, RejectsBadOptions) {
  EXPECT_THROW(Prefetcher(make_sampler(), PrefetchOptions{0, 2, 0, -1}), Error);
  EXPECT_THROW(Prefetcher(make_sampler(), PrefetchOptions{1, 0, 0, -1}), Error);
}

}  // namespace
}  // namespace mamlpp::data
