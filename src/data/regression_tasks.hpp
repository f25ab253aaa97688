// Regression tasks: sources of few-shot regression problems, where a task is a function and its
// examples are (x, f(x)) pairs. Task t of a source is a pure function of (seed, t), like the
// episode sampler's, so fixed evaluation sets are reproducible. Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/csv_table.hpp"

namespace mamlpp::data {

class RegressionTasks {
 public:
  virtual ~RegressionTasks() = default;
  virtual int32_t features() const = 0;  // floats per example
  virtual int32_t outputs() const = 0;   // targets per example
  // Task `task` of the stream seeded with `seed`: `support` then `query` examples, written to
  // x (examples * features floats) and t (examples * outputs floats) of each set.
  virtual void make_task(uint64_t seed, int64_t task, int32_t support, int32_t query, float* support_x,
                         float* support_t, float* query_x, float* query_t) const = 0;
  virtual std::string description() const = 0;
};

// The MAML paper's sinusoid regression (Finn et al. 2017, section 5.1): a task is
// y = A sin(x - phase) with the amplitude A uniform in [0.1, 5.0] and the phase uniform in
// [0, pi]; every example draws x uniformly from [-5, 5]. One feature, one output.
class SinusoidTasks final : public RegressionTasks {
 public:
  static constexpr float kMinAmplitude = 0.1f, kMaxAmplitude = 5.0f;
  static constexpr float kMinPhase = 0.0f, kMaxPhase = 3.14159265358979f;
  static constexpr float kMinX = -5.0f, kMaxX = 5.0f;

  int32_t features() const override { return 1; }
  int32_t outputs() const override { return 1; }
  void make_task(uint64_t seed, int64_t task, int32_t support, int32_t query, float* support_x, float* support_t,
                 float* query_x, float* query_t) const override;
  std::string description() const override;

  // The amplitude and phase of task `task` (for plots and tests).
  static void parameters(uint64_t seed, int64_t task, float& amplitude, float& phase);
};

// Regression tasks from a table's groups (rows sharing a task column's value, e.g. one user's
// measurements): task t picks one of `groups` and then k_shot + q_query distinct rows of it, the
// first k_shot for support. Throws Error(InvalidArgument) naming the group when one has fewer rows
// than a task needs, and when `groups` is empty.
class TableRegressionTasks final : public RegressionTasks {
 public:
  TableRegressionTasks(std::shared_ptr<const RegressionTable> table, std::vector<int32_t> groups, int32_t rows_per_task,
                       std::string split);
  int32_t features() const override { return table_->features; }
  int32_t outputs() const override { return table_->outputs; }
  void make_task(uint64_t seed, int64_t task, int32_t support, int32_t query, float* support_x, float* support_t,
                 float* query_x, float* query_t) const override;
  std::string description() const override;

 private:
  std::shared_ptr<const RegressionTable> table_;
  std::vector<int32_t> groups_;
  std::string split_;
};

// The groups [0, groups) of a table cut into train, validation and test by a seeded shuffle:
// floor(f_train * groups) and floor(f_val * groups) of them, the rest for test.
void split_groups(int32_t groups, double f_train, double f_val, uint64_t seed, std::vector<int32_t>& train,
                  std::vector<int32_t>& val, std::vector<int32_t>& test);

}  // namespace mamlpp::data
