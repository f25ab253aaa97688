// Small statistics for evaluation: mean, spread and 95% confidence interval of per-task
// accuracies; softmax, argmax and cross-entropy of logits.
#pragma once

#include <cstdint>
#include <vector>

namespace mamlpp::cli {

struct Summary {
  int64_t n = 0;
  double mean = 0;
  double std = 0;   // population standard deviation (numpy's np.std, as the reference reports)
  double ci95 = 0;  // 1.96 * std / sqrt(n)
  double min = 0, max = 0;
};

Summary summarize(const std::vector<double>& values);

// Softmax of n logits into out (n values), numerically stable.
void softmax(const float* logits, int32_t n, double* out);
int32_t argmax(const float* values, int32_t n);
// -log softmax(logits)[label].
double cross_entropy(const float* logits, int32_t n, int32_t label);

}  // namespace mamlpp::cli
