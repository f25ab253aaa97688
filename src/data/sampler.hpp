// The episode (task) sampler: N-way K-shot Q-query meta-batches of B tasks from one split.
//
// Task t of a sampler is a pure function of (seed, t), and batch i holds tasks [i*B, (i+1)*B), so
// any thread can produce any batch, in any order, and get the same bytes. Draws use only raw
// std::mt19937_64 output (see rng.hpp), so they are also the same across compilers.
//
// A task, in draw order: N distinct classes of the split; a random permutation of the labels
// 0..N-1 over them; a rotation 0..3 per class (applied only with augment_rotations, but always
// drawn so switching augmentation does not change which images are picked); then per class K+Q
// distinct images, the first K for support and the next Q for query.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "data/dataset.hpp"
#include "data/regression_tasks.hpp"
#include "data/splits.hpp"

namespace mamlpp::data {

struct EpisodeOptions {
  int32_t n_way = 5;
  int32_t k_shot = 1;
  int32_t q_query = 1;    // query examples per class (the reference: 1 for Omniglot, 15 for Mini-ImageNet)
  int32_t num_tasks = 8;  // B, tasks per meta-batch
  // MAML++ training augmentation: each class of a task rotated by a random multiple of 90 degrees
  // (the same rotation for all of its support and query images). Square images only.
  bool augment_rotations = false;
  uint64_t seed = 0;
};

// One meta-batch, laid out exactly as the C ABI's maml_tasks: task after task, NCHW floats.
// In a task, class slot j (0..N-1) carries label labels[t*N + j]; its support images are examples
// j*K .. j*K+K-1 of the task's support set and its query images j*Q .. j*Q+Q-1 of the query set.
struct MetaBatch {
  int32_t num_tasks = 0;
  int32_t n_way = 0;
  int32_t support_size = 0;  // N*K examples per task
  int32_t query_size = 0;    // N*Q examples per task
  ImageShape shape{};
  std::vector<float> support_x;    // num_tasks * support_size * C*H*W
  std::vector<int32_t> support_y;  // num_tasks * support_size, in [0, N)
  std::vector<float> query_x;      // num_tasks * query_size * C*H*W
  std::vector<int32_t> query_y;    // num_tasks * query_size
  // Regression batches (EpisodeSampler over RegressionTasks): float targets, outputs per example,
  // in place of the labels (support_y and query_y are then empty; shape is 1 x 1 x features).
  int32_t outputs = 0;
  std::vector<float> support_t;  // num_tasks * support_size * outputs
  std::vector<float> query_t;    // num_tasks * query_size * outputs

  // Provenance, for tests, logs and debugging (num_tasks * N entries, slot order).
  std::vector<int32_t> classes;    // dataset class of each slot
  std::vector<int32_t> rotations;  // quarter turns applied: the split's rotation plus augmentation
  std::vector<int32_t> labels;     // label of each slot
  std::vector<int32_t> support_images;  // image index within its class, per support example
  std::vector<int32_t> query_images;    // same, per query example
};

class EpisodeSampler {
 public:
  // Checks everything a batch needs up front and throws mamlpp::Error (InvalidArgument) naming the
  // dataset and class: a split with fewer than n_way classes, a class with fewer than
  // k_shot + q_query images, a class listed twice, rotations on non-square images, bad sizes.
  EpisodeSampler(std::shared_ptr<const ImageDataset> dataset, Split split, EpisodeOptions options);
  // Regression: tasks of `tasks` with k_shot support and q_query query examples each (n_way and
  // augment_rotations do not apply). The split names the task stream ("train", "test").
  EpisodeSampler(std::shared_ptr<const RegressionTasks> tasks, std::string stream, EpisodeOptions options);
  bool regression() const { return tasks_ != nullptr; }

  // Batch `index` (tasks [index*B, index*B + B)) into `out`, reusing its buffers.
  void fill(int64_t index, MetaBatch& out) const;
  MetaBatch batch(int64_t index) const;
  // `count` consecutive tasks from task `first` (count may differ from num_tasks).
  void fill_tasks(int64_t first, int32_t count, MetaBatch& out) const;

  const EpisodeOptions& options() const { return options_; }
  const Split& split() const { return split_; }
  const ImageDataset& dataset() const { return *dataset_; }
  const std::shared_ptr<const ImageDataset>& dataset_ptr() const { return dataset_; }

 private:
  void make_task(int64_t task, int32_t slot, MetaBatch& out) const;

  std::shared_ptr<const ImageDataset> dataset_;  // classification (null for regression)
  std::shared_ptr<const RegressionTasks> tasks_;  // regression (null for classification)
  Split split_;
  EpisodeOptions options_;
};

// A fixed, reproducible evaluation set: `total_tasks` tasks (e.g. 600 test tasks) of the split,
// task t a pure function of (options.seed, t), cut into batches of options.num_tasks (the last may
// be smaller). Rotation augmentation is always off here.
std::vector<MetaBatch> evaluation_batches(std::shared_ptr<const ImageDataset> dataset, Split split,
                                          EpisodeOptions options, int64_t total_tasks);

}  // namespace mamlpp::data
