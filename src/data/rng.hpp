// Deterministic random numbers for the data layer.
//
// The output sequence of std::mt19937_64 is fixed by the C++ standard, but the std distributions
// and std::shuffle are not (libstdc++ and libc++ draw differently). Every draw here is therefore
// built from raw engine output, so one seed gives the same tasks with every compiler and platform.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>

namespace mamlpp::data {

// SplitMix64's finaliser: spreads structured inputs (a seed, an index) over all 64 bits.
inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A seed for stream `index` of `seed`: distinct (seed, index) pairs give unrelated streams.
inline uint64_t derive_seed(uint64_t seed, uint64_t index) { return mix64(mix64(seed) ^ index); }

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t next() { return engine_(); }

  // Uniform in [0, n) for n > 0. Rejects the incomplete top block of the 64-bit range, so no value
  // is favoured (plain `x % n` would be biased).
  uint64_t below(uint64_t n) {
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    const uint64_t limit = max - max % n;
    uint64_t x = engine_();
    while (x >= limit) x = engine_();
    return x % n;
  }

  // Uniform float in [0, 1) from the top 24 bits (a float's mantissa).
  float uniform() { return static_cast<float>(engine_() >> 40) * 0x1.0p-24f; }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }

  // Standard normal (Box-Muller; one value per call keeps the stream simple to reason about).
  float normal() {
    const double u1 = 1.0 - static_cast<double>(engine_() >> 11) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }

  // Approximately standard normal, about 20x cheaper than normal(): the sum of four uniform
  // 16-bit fields of one draw (Irwin-Hall), scaled to unit variance; bounded by +-3.46. For pixel
  // noise, where the exact tails do not matter.
  float approx_normal() {
    const uint64_t x = engine_();
    const uint32_t sum = static_cast<uint32_t>((x & 0xFFFF) + ((x >> 16) & 0xFFFF) +
                                               ((x >> 32) & 0xFFFF) + (x >> 48));
    // Each field is uniform on [0, 65535]: mean 4 * 32767.5, variance 4 * (65536^2 - 1) / 12.
    return (static_cast<float>(sum) - 131070.0f) * (1.7320508f / 65536.0f);
  }

  // Fisher-Yates shuffle of [first, first + n).
  template <class T>
  void shuffle(T* first, size_t n) {
    for (size_t i = n; i > 1; --i) std::swap(first[i - 1], first[below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace mamlpp::data
