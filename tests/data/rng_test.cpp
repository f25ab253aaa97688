#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "data/rng.hpp"

namespace mamlpp::data {
namespace {

TEST(Rng, SameSeedSameStreamAndKnownFirstValue) {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.next(), b.next());
  // std::mt19937_64's output is fixed by the standard: the 10000th value for the default seed.
  std::mt19937_64 reference;
  reference.discard(9999);
  EXPECT_EQ(reference(), 9981545732273789042ull);
}

TEST(Rng, BelowCoversRangeUniformly) {
  Rng rng(7);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) {
    const uint64_t v = rng.below(7);
    ASSERT_LT(v, 7u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_EQ(rng.below(1), 0u);
}

TEST(Rng, ShuffleIsAPermutation) {
  Rng rng(3);
  std::vector<int> v(50);
  std::iota(v.begin(), v.end(), 0);
  rng.shuffle(v.data(), v.size());
  std::vector<int> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(v, sorted);  // 1/50! chance of a false failure
}

TEST(Rng, NormalsHaveUnitVariance) {
  Rng rng(11);
  for (bool approx : {false, true}) {
    double sum = 0, sq = 0;
    const int n = 100000;
    for (int i = 0; i < n; ++i) {
      const double x = approx ? rng.approx_normal() : rng.normal();
      sum += x;
      sq += x * x;
    }
    EXPECT_NEAR(sum / n, 0.0, 0.02);
    EXPECT_NEAR(sq / n, 1.0, 0.03);
  }
}

// Golden values. Every task, split and synthetic image is a function of these streams, so a
// change to any of them changes every run's data: these values must never change. They were
// computed outside the project: mix64 / derive_seed with a Python transcription of SplitMix64's
// finaliser (mix64(0) is SplitMix64's published first output for seed 0), and each Rng draw by
// applying the documented formula in Python to std::mt19937_64's raw output for seed 42.
TEST(Rng, GoldenDerivedSeeds) {
  EXPECT_EQ(mix64(0), 0xe220a8397b1dcdafull);
  EXPECT_EQ(mix64(1), 0x910a2dec89025cc1ull);
  EXPECT_EQ(derive_seed(0, 0), 0xa706dd2f4d197e6full);
  EXPECT_EQ(derive_seed(0, 1), 0x08b4fda8c892b50eull);
  EXPECT_EQ(derive_seed(1, 0), 0x5e41ab087439611eull);
  EXPECT_EQ(derive_seed(42, 7), 0x16062d6c1339e500ull);
  EXPECT_EQ(derive_seed(~0ull, ~0ull), 0x6309143e67a47936ull);
}

TEST(Rng, GoldenDraws) {
  // One fixed sequence of draws on seed 42; each consumes raw engine output as documented.
  Rng rng(42);
  EXPECT_EQ(rng.next(), 13930160852258120406ull);
  EXPECT_EQ(rng.below(10), 4u);
  EXPECT_EQ(rng.below(10), 0u);
  EXPECT_EQ(rng.below(1000003), 822067u);
  EXPECT_EQ(rng.uniform(), 0.9032689332962036f);
  EXPECT_FLOAT_EQ(rng.normal(), -0.39659827947616577f);  // libm's log/cos: within 4 ulps
  EXPECT_EQ(rng.approx_normal(), -0.15793968737125397f);
  int v[5] = {0, 1, 2, 3, 4};
  rng.shuffle(v, 5);
  EXPECT_EQ(std::vector<int>(v, v + 5), (std::vector<int>{2, 4, 3, 1, 0}));
}

TEST(Rng, DerivedSeedsDiffer) {
  EXPECT_NE(derive_seed(0, 0), derive_seed(0, 1));
  EXPECT_NE(derive_seed(0, 1), derive_seed(1, 0));
  EXPECT_EQ(derive_seed(5, 9), derive_seed(5, 9));
}

}  // namespace
}  // namespace mamlpp::data
