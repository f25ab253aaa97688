#include "cli/stats.hpp"

#include <algorithm>
#include <cmath>

namespace mamlpp::cli {

Summary summarize(const std::vector<double>& v) {
  Summary s;
  s.n = static_cast<int64_t>(v.size());
  if (v.empty()) return s;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  double sq = 0;
  for (double x : v) sq += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(sq / static_cast<double>(v.size()));
  s.ci95 = 1.96 * s.std / std::sqrt(static_cast<double>(v.size()));
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

void softmax(const float* logits, int32_t n, double* out) {
  double m = -INFINITY;
  for (int32_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(logits[i]));
  double sum = 0;
  for (int32_t i = 0; i < n; ++i) sum += (out[i] = std::exp(static_cast<double>(logits[i]) - m));
  for (int32_t i = 0; i < n; ++i) out[i] /= sum;
}

int32_t argmax(const float* values, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i)
    if (values[i] > values[best]) best = i;
  return best;
}

double cross_entropy(const float* logits, int32_t n, int32_t label) {
  double m = -INFINITY;
  for (int32_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(logits[i]));
  double sum = 0;
  for (int32_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - m);
  return m + std::log(sum) - static_cast<double>(logits[label]);
}

}  // namespace mamlpp::cli
