#include "data/sampler.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <set>

#include "common/error.hpp"
#include "data/rng.hpp"
#include "data/rotate.hpp"

namespace mamlpp::data {
namespace {

// n distinct values of [0, m) into out[0..n), in draw order. Rejection while the picks are
// sparse (no allocation), a partial Fisher-Yates otherwise; which one depends on (n, m) only.
void sample_distinct(Rng& rng, int32_t m, int32_t n, int32_t* out) {
  if (int64_t{n} * 4 <= m) {
    for (int32_t k = 0; k < n; ++k) {
      int32_t v;
      do v = static_cast<int32_t>(rng.below(static_cast<uint64_t>(m)));
      while (std::find(out, out + k, v) != out + k);
      out[k] = v;
    }
    return;
  }
  thread_local std::vector<int32_t> pool;
  pool.resize(m);
  std::iota(pool.begin(), pool.end(), 0);
  for (int32_t k = 0; k < n; ++k) {
    const auto j = k + static_cast<int32_t>(rng.below(static_cast<uint64_t>(m - k)));
    std::swap(pool[k], pool[j]);
    out[k] = pool[k];
  }
}

}  // namespace

EpisodeSampler::EpisodeSampler(std::shared_ptr<const ImageDataset> dataset, Split split,
                               EpisodeOptions options)
    : dataset_(std::move(dataset)), split_(std::move(split)), options_(options) {
  if (!dataset_) throw invalid_argument("episode sampler: no dataset");
  const ImageDataset& ds = *dataset_;
  const EpisodeOptions& o = options_;
  const std::string where = ds.source() + ", split '" + split_.name + "': ";
  if (o.n_way < 1 || o.k_shot < 1 || o.q_query < 1 || o.num_tasks < 1)
    throw invalid_argument(where + "n_way, k_shot, q_query and num_tasks must all be >= 1 (got " +
                           std::to_string(o.n_way) + ", " + std::to_string(o.k_shot) + ", " +
                           std::to_string(o.q_query) + ", " + std::to_string(o.num_tasks) + ")");
  if (split_.size() < o.n_way)
    throw invalid_argument(where + "has " + std::to_string(split_.size()) +
                           " classes, fewer than n_way = " + std::to_string(o.n_way) +
                           "; add classes or lower n_way");
  const int32_t needed = o.k_shot + o.q_query;
  bool rotated = o.augment_rotations;
  std::set<ClassRef> seen;
  for (const ClassRef& c : split_.classes) {
    if (c.index < 0 || c.index >= ds.num_classes() || c.rotation < 0 || c.rotation > 3)
      throw invalid_argument(where + "refers to class " + std::to_string(c.index) + " (rotation " +
                             std::to_string(c.rotation) + "), which the dataset does not have");
    if (!seen.insert(c).second)
      throw invalid_argument(where + "lists class '" + ds.class_name(c.index) + "' twice");
    if (ds.num_images(c.index) < needed)
      throw invalid_argument(where + "class '" + ds.class_name(c.index) + "' has " +
                             std::to_string(ds.num_images(c.index)) +
                             " images, fewer than k_shot + q_query = " + std::to_string(needed) +
                             "; add images to it, remove it, or lower k_shot / q_query");
    rotated = rotated || c.rotation != 0;
  }
  if (rotated && !ds.shape().square())
    throw invalid_argument(where + "rotation by quarter turns needs square images, these are " +
                           to_string(ds.shape()) + "; turn rotation augmentation off");
}

EpisodeSampler::EpisodeSampler(std::shared_ptr<const RegressionTasks> tasks, std::string stream,
                               EpisodeOptions options)
    : tasks_(std::move(tasks)), options_(options) {
  if (!tasks_) throw invalid_argument("episode sampler: no regression tasks");
  split_.name = std::move(stream);
  options_.augment_rotations = false;
  const EpisodeOptions& o = options_;
  if (o.k_shot < 1 || o.q_query < 1 || o.num_tasks < 1)
    throw invalid_argument(tasks_->description() + ": k_shot, q_query and num_tasks must all be >= 1 (got " +
                           std::to_string(o.k_shot) + ", " + std::to_string(o.q_query) + ", " +
                           std::to_string(o.num_tasks) + ")");
}

void EpisodeSampler::make_task(int64_t task, int32_t t, MetaBatch& out) const {
  if (tasks_) {
    const int32_t K = options_.k_shot, Q = options_.q_query, D = tasks_->features(), M = tasks_->outputs();
    tasks_->make_task(options_.seed, task, K, Q, out.support_x.data() + static_cast<size_t>(t) * K * D,
                      out.support_t.data() + static_cast<size_t>(t) * K * M,
                      out.query_x.data() + static_cast<size_t>(t) * Q * D,
                      out.query_t.data() + static_cast<size_t>(t) * Q * M);
    return;
  }
  const ImageDataset& ds = *dataset_;
  const int32_t N = options_.n_way, K = options_.k_shot, Q = options_.q_query;
  const int64_t numel = ds.shape().numel();
  Rng rng(derive_seed(options_.seed, static_cast<uint64_t>(task)));

  int32_t* classes = &out.classes[static_cast<size_t>(t) * N];
  int32_t* labels = &out.labels[static_cast<size_t>(t) * N];
  int32_t* rotations = &out.rotations[static_cast<size_t>(t) * N];
  sample_distinct(rng, split_.size(), N, classes);  // positions in the split for now
  std::iota(labels, labels + N, 0);
  rng.shuffle(labels, static_cast<size_t>(N));
  for (int32_t j = 0; j < N; ++j) {
    const int32_t extra = static_cast<int32_t>(rng.below(4));
    const ClassRef& ref = split_.classes[classes[j]];
    classes[j] = ref.index;
    rotations[j] = (ref.rotation + (options_.augment_rotations ? extra : 0)) % 4;
  }

  thread_local std::vector<int32_t> picks;
  picks.resize(static_cast<size_t>(K + Q));
  for (int32_t j = 0; j < N; ++j) {
    sample_distinct(rng, ds.num_images(classes[j]), K + Q, picks.data());
    for (int32_t e = 0; e < K + Q; ++e) {
      const bool support = e < K;
      const int64_t example = support ? (int64_t{t} * N + j) * K + e : (int64_t{t} * N + j) * Q + (e - K);
      float* dst = (support ? out.support_x.data() : out.query_x.data()) + example * numel;
      (support ? out.support_y : out.query_y)[example] = labels[j];
      (support ? out.support_images : out.query_images)[example] = picks[e];
      const float* src = ds.image(classes[j], picks[e]);
      if (rotations[j] == 0)
        std::memcpy(dst, src, sizeof(float) * numel);
      else
        rotate_quarter_turns(src, dst, ds.channels(), ds.height(), rotations[j]);
    }
  }
}

void EpisodeSampler::fill_tasks(int64_t first, int32_t count, MetaBatch& out) const {
  if (first < 0 || count < 1)
    throw invalid_argument("episode sampler: tasks must start at >= 0 and number >= 1");
  if (tasks_) {
    const int32_t K = options_.k_shot, Q = options_.q_query, D = tasks_->features(), M = tasks_->outputs();
    out.num_tasks = count;
    out.n_way = 0;
    out.support_size = K;
    out.query_size = Q;
    out.shape = ImageShape{1, 1, D};
    out.outputs = M;
    out.support_x.resize(static_cast<size_t>(count) * K * D);
    out.query_x.resize(static_cast<size_t>(count) * Q * D);
    out.support_t.resize(static_cast<size_t>(count) * K * M);
    out.query_t.resize(static_cast<size_t>(count) * Q * M);
    out.support_y.clear();
    out.query_y.clear();
    for (int32_t t = 0; t < count; ++t) make_task(first + t, t, out);
    return;
  }
  const int32_t N = options_.n_way, K = options_.k_shot, Q = options_.q_query;
  const size_t numel = static_cast<size_t>(dataset_->shape().numel());
  out.num_tasks = count;
  out.n_way = N;
  out.support_size = N * K;
  out.query_size = N * Q;
  out.shape = dataset_->shape();
  const size_t support = static_cast<size_t>(count) * N * K, query = static_cast<size_t>(count) * N * Q;
  out.support_x.resize(support * numel);
  out.support_y.resize(support);
  out.query_x.resize(query * numel);
  out.query_y.resize(query);
  out.classes.resize(static_cast<size_t>(count) * N);
  out.rotations.resize(static_cast<size_t>(count) * N);
  out.labels.resize(static_cast<size_t>(count) * N);
  out.support_images.resize(support);
  out.query_images.resize(query);
  for (int32_t t = 0; t < count; ++t) make_task(first + t, t, out);
}

void EpisodeSampler::fill(int64_t index, MetaBatch& out) const {
  if (index < 0) throw invalid_argument("episode sampler: batch index must be >= 0");
  fill_tasks(index * options_.num_tasks, options_.num_tasks, out);
}

MetaBatch EpisodeSampler::batch(int64_t index) const {
  MetaBatch b;
  fill(index, b);
  return b;
}

std::vector<MetaBatch> evaluation_batches(std::shared_ptr<const ImageDataset> dataset, Split split,
                                          EpisodeOptions options, int64_t total_tasks) {
  if (total_tasks < 1) throw invalid_argument("evaluation set: total_tasks must be >= 1");
  options.augment_rotations = false;
  const EpisodeSampler sampler(std::move(dataset), std::move(split), options);
  std::vector<MetaBatch> batches;
  for (int64_t first = 0; first < total_tasks; first += options.num_tasks) {
    batches.emplace_back();
    sampler.fill_tasks(first, static_cast<int32_t>(std::min<int64_t>(options.num_tasks, total_tasks - first)),
                       batches.back());
  }
  return batches;
}

}  // namespace mamlpp::data
