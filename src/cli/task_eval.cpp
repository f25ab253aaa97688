#include "cli/task_eval.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include "cli/errors.hpp"
#include "cli/stats.hpp"

namespace mamlpp::cli {

maml_tasks as_tasks(const data::MetaBatch& b) {
  maml_tasks t{};
  t.struct_size = sizeof(maml_tasks);
  t.num_tasks = b.num_tasks;
  t.support_size = b.support_size;
  t.query_size = b.query_size;
  t.support_x = b.support_x.data();
  t.query_x = b.query_x.data();
  if (b.outputs > 0) {  // regression: float targets, no labels
    t.support_t = b.support_t.data();
    t.query_t = b.query_t.data();
  } else {
    t.support_y = b.support_y.data();
    t.query_y = b.query_y.data();
  }
  return t;
}

ValScore validate(const Model& model, const data::EpisodeSampler& sampler, int64_t total, int32_t batch,
                  const std::function<void()>& between, const Cluster* cluster) {
  const auto t0 = std::chrono::steady_clock::now();
  ValScore v;
  data::MetaBatch mb;
  const int64_t stride = cluster ? cluster->world_size() : 1;
  for (int64_t first = (cluster ? cluster->rank() : 0) * int64_t{batch}; first < total; first += stride * batch) {
    if (between) between();
    const auto count = static_cast<int32_t>(std::min<int64_t>(batch, total - first));
    sampler.fill_tasks(first, count, mb);
    const maml_tasks t = as_tasks(mb);
    maml_metrics m{};
    m.struct_size = sizeof(maml_metrics);
    const maml_status status = maml_evaluate(model.get(), &t, &m);
    if (status == MAML_E_NUMERICAL) {  // diverged: counted, and the run goes on (the model is unchanged)
      v.diverged += count;
      continue;
    }
    check(status, "validation (maml_evaluate)");
    v.loss += static_cast<double>(m.loss) * count;
    v.accuracy += static_cast<double>(m.accuracy) * count;
    v.tasks += count;
  }
  if (cluster) {
    double sums[4] = {v.loss, v.accuracy, static_cast<double>(v.tasks), static_cast<double>(v.diverged)};
    cluster->allreduce_sum(sums, 4);
    v.loss = sums[0];
    v.accuracy = sums[1];
    v.tasks = static_cast<int64_t>(sums[2]);
    v.diverged = static_cast<int64_t>(sums[3]);
  }
  if (v.tasks > 0) {
    v.loss /= static_cast<double>(v.tasks);
    v.accuracy /= static_cast<double>(v.tasks);
  }
  v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return v;
}

TaskScores evaluate_tasks(const std::vector<const Model*>& models, const data::EpisodeSampler& sampler,
                          int64_t total, int32_t batch, const std::function<void(int64_t)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  TaskScores s;
  data::MetaBatch mb;
  std::vector<float> sum, logits;
  const bool regression = sampler.regression();
  const int32_t n_way = sampler.options().n_way;
  for (int64_t first = 0; first < total; first += batch) {
    const auto count = static_cast<int32_t>(std::min<int64_t>(batch, total - first));
    sampler.fill_tasks(first, count, mb);
    const maml_tasks t = as_tasks(mb);
    const size_t q = static_cast<size_t>(mb.query_size);
    const size_t numel = static_cast<size_t>(mb.shape.numel());
    // A row of outputs per query example: logits of n_way classes, or regression values.
    const int32_t width = regression ? mb.outputs : n_way;
    sum.assign(static_cast<size_t>(count) * q * static_cast<size_t>(width), 0.0f);
    for (const Model* model : models) {
      const std::vector<LearnerPtr> learners = model->adapt_tasks(t);
      for (int32_t k = 0; k < count; ++k) {
        predict(learners[static_cast<size_t>(k)].get(), mb.query_x.data() + static_cast<size_t>(k) * q * numel,
                mb.query_size, width, logits);
        float* dst = sum.data() + static_cast<size_t>(k) * q * static_cast<size_t>(width);
        for (size_t i = 0; i < logits.size(); ++i) dst[i] += logits[i];
      }
    }
    const float inv = 1.0f / static_cast<float>(models.size());
    for (float& x : sum) x *= inv;
    if (regression) {  // the ensemble's mean prediction against the targets: MSE per task
      const size_t per_task = q * static_cast<size_t>(width);
      for (int32_t k = 0; k < count; ++k) {
        double se = 0;
        for (size_t i = 0; i < per_task; ++i) {
          const double d = static_cast<double>(sum[static_cast<size_t>(k) * per_task + i]) -
                           mb.query_t[static_cast<size_t>(k) * per_task + i];
          se += d * d;
        }
        s.loss.push_back(se / static_cast<double>(per_task));
        s.accuracy.push_back(std::numeric_limits<double>::quiet_NaN());
      }
      if (progress) progress(first + count);
      continue;
    }
    for (int32_t k = 0; k < count; ++k) {
      int64_t correct = 0;
      double loss = 0;
      for (size_t i = 0; i < q; ++i) {
        const float* l = sum.data() + (static_cast<size_t>(k) * q + i) * static_cast<size_t>(n_way);
        const int32_t y = mb.query_y[static_cast<size_t>(k) * q + i];
        correct += argmax(l, n_way) == y ? 1 : 0;
        loss += cross_entropy(l, n_way, y);
      }
      s.accuracy.push_back(static_cast<double>(correct) / static_cast<double>(q));
      s.loss.push_back(loss / static_cast<double>(q));
    }
    if (progress) progress(first + count);
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

}  // namespace mamlpp::cli
