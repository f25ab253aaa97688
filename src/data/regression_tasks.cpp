#include "data/regression_tasks.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.hpp"
#include "data/rng.hpp"

namespace mamlpp::data {

void SinusoidTasks::parameters(uint64_t seed, int64_t task, float& amplitude, float& phase) {
  Rng rng(derive_seed(seed, static_cast<uint64_t>(task)));
  amplitude = rng.uniform(kMinAmplitude, kMaxAmplitude);
  phase = rng.uniform(kMinPhase, kMaxPhase);
}

void SinusoidTasks::make_task(uint64_t seed, int64_t task, int32_t support, int32_t query, float* support_x,
                              float* support_t, float* query_x, float* query_t) const {
  Rng rng(derive_seed(seed, static_cast<uint64_t>(task)));
  const float amplitude = rng.uniform(kMinAmplitude, kMaxAmplitude);
  const float phase = rng.uniform(kMinPhase, kMaxPhase);
  auto draw = [&](int32_t n, float* x, float* t) {
    for (int32_t i = 0; i < n; ++i) {
      x[i] = rng.uniform(kMinX, kMaxX);
      t[i] = amplitude * std::sin(x[i] - phase);
    }
  };
  draw(support, support_x, support_t);
  draw(query, query_x, query_t);
}

std::string SinusoidTasks::description() const {
  return "sinusoid (A sin(x - phase), A in [0.1, 5], phase in [0, pi], x in [-5, 5])";
}

TableRegressionTasks::TableRegressionTasks(std::shared_ptr<const RegressionTable> table, std::vector<int32_t> groups,
                                           int32_t rows_per_task, std::string split)
    : table_(std::move(table)), groups_(std::move(groups)), split_(std::move(split)) {
  if (groups_.empty())
    throw invalid_argument(table_->source + ": split '" + split_ + "' has no task (group of rows); add tasks to the "
                           "file or change split_fractions");
  for (int32_t g : groups_)
    if (table_->group_rows(g) < rows_per_task)
      throw invalid_argument(table_->source + ": task '" + table_->group_names[static_cast<size_t>(g)] + "' has " +
                             std::to_string(table_->group_rows(g)) + " rows, fewer than k_shot + q_query = " +
                             std::to_string(rows_per_task) + "; add rows to it, remove it, or lower k_shot / q_query");
}

void TableRegressionTasks::make_task(uint64_t seed, int64_t task, int32_t support, int32_t query, float* support_x,
                                     float* support_t, float* query_x, float* query_t) const {
  Rng rng(derive_seed(seed, static_cast<uint64_t>(task)));
  const int32_t g = groups_[rng.below(groups_.size())];
  const int64_t first = table_->offsets[static_cast<size_t>(g)];
  const auto rows = static_cast<int32_t>(table_->group_rows(g));
  thread_local std::vector<int32_t> pool;
  pool.resize(static_cast<size_t>(rows));
  std::iota(pool.begin(), pool.end(), 0);
  const int32_t D = table_->features, M = table_->outputs;
  for (int32_t k = 0; k < support + query; ++k) {  // a partial Fisher-Yates: distinct rows
    const auto j = k + static_cast<int32_t>(rng.below(static_cast<uint64_t>(rows - k)));
    std::swap(pool[static_cast<size_t>(k)], pool[static_cast<size_t>(j)]);
    const int64_t row = first + pool[static_cast<size_t>(k)];
    const bool s = k < support;
    const int32_t e = s ? k : k - support;
    std::copy_n(table_->row_x(row), D, (s ? support_x : query_x) + static_cast<size_t>(e) * D);
    std::copy_n(table_->row_t(row), M, (s ? support_t : query_t) + static_cast<size_t>(e) * M);
  }
}

std::string TableRegressionTasks::description() const {
  return table_->source + " (" + std::to_string(groups_.size()) + " of " + std::to_string(table_->num_groups()) +
         " tasks, " + std::to_string(table_->features) + " features, " + std::to_string(table_->outputs) + " target(s))";
}

void split_groups(int32_t groups, double f_train, double f_val, uint64_t seed, std::vector<int32_t>& train,
                  std::vector<int32_t>& val, std::vector<int32_t>& test) {
  std::vector<int32_t> order(static_cast<size_t>(groups));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(derive_seed(seed, 0x67726f757073ULL));  // "groups"
  rng.shuffle(order.data(), order.size());
  const auto n_train = static_cast<size_t>(std::floor(f_train * groups));
  const auto n_val = static_cast<size_t>(std::floor(f_val * groups));
  train.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_train));
  val.assign(order.begin() + static_cast<std::ptrdiff_t>(n_train),
             order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), n_train + n_val)));
  test.assign(order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), n_train + n_val)), order.end());
}

}  // namespace mamlpp::data
