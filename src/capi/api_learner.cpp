// Few-shot adaptation and prediction.
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "capi/boundary.hpp"
#include "capi/config_convert.hpp"
#include "common/error.hpp"
#include "core/budget.hpp"

using namespace mamlpp;
using namespace mamlpp::capi;

extern "C" {

namespace {

// maml_adapt (labels) and maml_adapt_regression (targets): one task's support set.
void adapt_one(const maml_model* model, const float* support_x, const int32_t* support_y, const float* support_t,
               bool regression_call, int32_t n_support, maml_learner** out) {
  require_non_null(out, "out");
  *out = nullptr;
  const MetaLearner& m = model_of(model);
  const Config& cfg = m.config();
  const bool regression = cfg.task_kind == TaskKind::Regression;
  if (regression && !regression_call)
    throw invalid_argument("the model does regression (task_kind = regression, " + std::to_string(cfg.n_outputs) +
                           " outputs): adapt it with maml_adapt_regression and float targets, not labels");
  if (!regression && regression_call)
    throw invalid_argument("the model is a classifier (task_kind = classification, " + std::to_string(cfg.n_way) +
                           " classes): adapt it with maml_adapt and int32 labels, not regression targets");
  if (support_x == nullptr || (regression ? support_t == nullptr : support_y == nullptr))
    throw invalid_argument(regression ? "support_x and support_t must not be NULL"
                                      : "support_x and support_y must not be NULL");
  if (n_support <= 0) throw invalid_argument("n_support must be > 0, got " + std::to_string(n_support));
  check_call_activations(cfg, n_support, int64_t{cfg.eval_inner_steps} + 1, "maml_adapt",
                         "adapt on fewer support examples (a few per class is what few-shot adaptation needs)");
  HostTasks h;
  h.num_tasks = 1;
  h.support_size = n_support;
  h.support_x = support_x;
  h.support_y = support_y;
  h.support_t = support_t;
  const TaskTensors t = to_task_tensors(cfg, h, false, m.device(), m.dtype());
  auto learner = std::make_unique<maml_learner>();
  learner->impl = m.adapt(t).front();
  *out = learner.release();
}

}  // namespace

maml_status maml_adapt(const maml_model* model, const float* support_x, const int32_t* support_y,
                       int32_t n_support, maml_learner** out) {
  return guarded([&] { adapt_one(model, support_x, support_y, nullptr, false, n_support, out); });
}

maml_status maml_adapt_regression(const maml_model* model, const float* support_x, const float* support_t,
                                  int32_t n_support, maml_learner** out) {
  return guarded([&] { adapt_one(model, support_x, nullptr, support_t, true, n_support, out); });
}

maml_status maml_adapt_tasks(const maml_model* model, const maml_tasks* batch, maml_learner** out) {
  return guarded([&] {
    require_non_null(out, "out");
    // All or nothing: clear out[0..num_tasks) before anything can fail (a bad model, a struct
    // this library cannot read), whenever num_tasks itself is readable.
    if (batch != nullptr &&
        batch->struct_size >= offsetof(maml_tasks, num_tasks) + sizeof(batch->num_tasks)) {
      for (int32_t i = 0; i < batch->num_tasks; ++i) out[i] = nullptr;
    }
    const MetaLearner& m = model_of(model);
    const HostTasks h = host_tasks(batch);  // the query fields are not read
    check_call_activations(m.config(), h.support_size, int64_t{m.config().eval_inner_steps} + 1,
                           "maml_adapt_tasks: one task", "adapt on fewer support examples per task");
    const TaskTensors t = to_task_tensors(m.config(), h, false, m.device(), m.dtype());
    std::vector<std::unique_ptr<maml_learner>> made;
    for (auto& l : m.adapt(t)) {
      made.push_back(std::make_unique<maml_learner>());
      made.back()->impl = std::move(l);
    }
    if (made.size() != static_cast<size_t>(h.num_tasks))
      throw Error(ErrorKind::Internal, "adapt returned " + std::to_string(made.size()) +
                                           " learners for " + std::to_string(h.num_tasks) + " tasks");
    for (size_t i = 0; i < made.size(); ++i) out[i] = made[i].release();
  });
}

maml_status maml_predict(const maml_learner* learner, const float* x, int32_t n, float* logits,
                         int32_t* labels) {
  return guarded([&] {
    require_non_null(learner, "learner");
    const Learner& l = *learner->impl;
    const bool regression = l.config().task_kind == TaskKind::Regression;
    if (regression && labels != nullptr)
      throw invalid_argument("labels must be NULL for a regression learner (task_kind = regression): the "
                             "predicted values are written to the logits argument");
    const at::Tensor input = to_example_tensor(l.config(), x, n, l.device(), l.dtype());
    // One transfer back: the logits; the labels are their argmax, taken on the host.
    const at::Tensor out = l.predict(input).to(at::kCPU, at::kFloat).contiguous();
    const float* p = out.data_ptr<float>();
    const int64_t ways = head_outputs(l.config());
    for (int64_t i = 0; i < out.numel(); ++i) {
      if (!std::isfinite(p[i]))
        throw numerical_error(regression ? "prediction produced non-finite values" : "prediction produced non-finite logits");
    }
    if (logits) std::memcpy(logits, p, sizeof(float) * static_cast<size_t>(out.numel()));
    if (labels) {
      for (int64_t i = 0; i < n; ++i) {
        int32_t best = 0;
        for (int32_t c = 1; c < ways; ++c)
          if (p[i * ways + c] > p[i * ways + best]) best = c;
        labels[i] = best;
      }
    }
  });
}

maml_status maml_learner_n_way(const maml_learner* learner, int32_t* out) {
  return guarded([&] {
    require_non_null(learner, "learner");
    require_non_null(out, "out");
    *out = head_outputs(learner->impl->config());
  });
}

maml_status maml_learner_get_config(const maml_learner* learner, maml_config* out) {
  return guarded([&] {
    require_non_null(learner, "learner");
    write_config(learner->impl->config(), out);
  });
}

void maml_learner_free(maml_learner* learner) { delete learner; }

}  // extern "C"
