// Few-shot adaptation and prediction.
#include <cmath>
#include <cstring>
#include <vector>

#include "capi/boundary.hpp"
#include "core/error.hpp"

using namespace mamlpp;
using namespace mamlpp::capi;

namespace {

const MetaLearner& model_of(const maml_model* m) {
  require_non_null(m, "model");
  return *m->impl;
}

}  // namespace

extern "C" {

maml_status maml_adapt(const maml_model* model, const float* support_x, const int32_t* support_y,
                       int32_t n_support, maml_learner** out) {
  return guarded([&] {
    require_non_null(out, "out");
    *out = nullptr;
    const MetaLearner& m = model_of(model);
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
  int32_t count = 0;
  const maml_status s = guarded([&] {
    require_non_null(out, "out");
    const MetaLearner& m = model_of(model);
    maml_tasks defaults{};
    const maml_tasks b = read_sized_struct(batch, defaults, sizeof(maml_tasks), "maml_tasks");
    count = b.num_tasks > 0 ? b.num_tasks : 0;
    for (int32_t i = 0; i < count; ++i) out[i] = nullptr;
    HostTasks h;
    h.num_tasks = b.num_tasks;
    h.support_size = b.support_size;
    h.support_x = b.support_x;
    h.support_y = b.support_y;
    const TaskTensors t = to_task_tensors(m.config(), h, false, m.device(), m.dtype());
    std::vector<std::unique_ptr<maml_learner>> made;
    for (auto& l : m.adapt(t)) {
      made.push_back(std::make_unique<maml_learner>());
      made.back()->impl = std::move(l);
    }
    for (int32_t i = 0; i < count; ++i) out[i] = made[static_cast<size_t>(i)].release();
  });
  return s;
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

void maml_learner_free(maml_learner* learner) { delete learner; }

}  // extern "C"
