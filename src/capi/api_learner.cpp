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

maml_status maml_adapt(const maml_model* model, const float* support_x, const int32_t* support_y,
                       int32_t n_support, maml_learner** out) {
  return guarded([&] {
    require_non_null(out, "out");
    *out = nullptr;
    const MetaLearner& m = model_of(model);
    if (n_support <= 0) throw invalid_argument("n_support must be > 0, got " + std::to_string(n_support));
    check_call_activations(m.config(), n_support, int64_t{m.config().eval_inner_steps} + 1, "maml_adapt",
                           "adapt on fewer support examples (a few per class is what few-shot adaptation needs)");
    HostTasks h;
    h.num_tasks = 1;
    h.support_size = n_support;
    h.support_x = support_x;
    h.support_y = support_y;
    const TaskTensors t = to_task_tensors(m.config(), h, false, m.device(), m.dtype());
    auto learner = std::make_unique<maml_learner>();
    learner->impl = m.adapt(t).front();
    *out = learner.release();
  });
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
    const at::Tensor input = to_image_tensor(l.config(), x, n, l.device(), l.dtype());
    // One transfer back: the logits; the labels are their argmax, taken on the host.
    const at::Tensor out = l.predict(input).to(at::kCPU, at::kFloat).contiguous();
    const float* p = out.data_ptr<float>();
    const int64_t ways = l.config().n_way;
    for (int64_t i = 0; i < out.numel(); ++i) {
      if (!std::isfinite(p[i])) throw numerical_error("prediction produced non-finite logits");
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
    *out = learner->impl->config().n_way;
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
