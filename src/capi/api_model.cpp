// maml_config_*, maml_create/free, meta-training, evaluation and the model queries.
#include <cstring>
#include <optional>

#include "capi/boundary.hpp"
#include "core/budget.hpp"
#include "capi/config_convert.hpp"
#include "core/device.hpp"
#include "common/error.hpp"

using namespace mamlpp;
using namespace mamlpp::capi;

namespace {

// Writes as much of the metrics as the caller's struct holds.
void write_metrics(const Metrics& in, maml_metrics* out) {
  if (out == nullptr) return;
  maml_metrics m{};
  m.struct_size = out->struct_size;  // left as the caller set it
  m.loss = static_cast<float>(in.loss);
  m.accuracy = static_cast<float>(in.accuracy);
  m.meta_lr = static_cast<float>(in.meta_lr);
  m.second_order = in.second_order ? 1 : 0;
  m.step = in.step;
  m.epoch = in.epoch;
  std::memcpy(out, &m, out->struct_size < sizeof(m) ? out->struct_size : sizeof(m));
}

void check_metrics(const maml_metrics* out) {
  if (out != nullptr && out->struct_size < offsetof(maml_metrics, accuracy))
    throw invalid_argument("metrics->struct_size is " + std::to_string(out->struct_size) +
                           ", expected at least 8 (set it to sizeof(maml_metrics))");
}

}  // namespace

extern "C" {

// The exported symbol that programs built against the 1.0 header call: it writes exactly the 1.0
// struct, whatever this library's maml_config has grown to. The header maps maml_config_init() to
// maml_config_init_sized(cfg, sizeof *cfg) for programs built against later headers.
void(maml_config_init)(maml_config* cfg) {
  if (cfg != nullptr) init_config(cfg, kConfigV1Size);
}

maml_status maml_config_init_sized(maml_config* cfg, uint32_t struct_size) {
  return guarded([&] { init_config(cfg, struct_size); });
}

maml_status maml_create(const maml_config* cfg, maml_model** out) {
  return guarded([&] {
    require_non_null(out, "out");
    *out = nullptr;
    const Config config = read_config(cfg, "cfg");
    // Validate before anything else: MetaLearner's constructor also resolves the device, and
    // the order it evaluates the two in is unspecified, so a bad field could surface as a
    // device error (or an unnamed "unknown device type") instead of naming the field.
    validate(config);
    auto model = std::make_unique<maml_model>();
    model->impl = std::make_unique<MetaLearner>(config);
    *out = model.release();
  });
}

void maml_free(maml_model* model) { delete model; }

maml_status maml_meta_train_step(maml_model* model, const maml_tasks* batch, maml_metrics* metrics) {
  return guarded([&] {
    MetaLearner& m = model_of(model);
    std::optional<TaskTensors> t;
    try {
      check_metrics(metrics);
      const HostTasks h = host_tasks(batch);
      // Second order keeps every inner step's graph of a task, and differentiates through it.
      check_call_activations(m.config(), h.support_size + h.query_size, 2 * (int64_t{m.config().inner_steps} + 1),
                             "maml_meta_train_step: one task", "use fewer examples per task");
      t = to_task_tensors(m.config(), h, true, m.device(), m.dtype());
    } catch (...) {
      // In a group, a refused input still takes part in the step, so every rank refuses it.
      m.refuse_step_together(std::current_exception());
    }
    write_metrics(m.meta_train_step(*t), metrics);
  });
}

maml_status maml_evaluate(const maml_model* model, const maml_tasks* batch, maml_metrics* metrics) {
  return guarded([&] {
    const MetaLearner& m = model_of(model);
    require_non_null(metrics, "metrics");
    check_metrics(metrics);
    const HostTasks h = host_tasks(batch);
    check_call_activations(m.config(), h.support_size + h.query_size, int64_t{m.config().eval_inner_steps} + 1,
                           "maml_evaluate: one task", "use fewer examples per task");
    const TaskTensors t = to_task_tensors(m.config(), h, true, m.device(), m.dtype());
    write_metrics(m.evaluate(t), metrics);
  });
}

maml_status maml_get_config(const maml_model* model, maml_config* out) {
  return guarded([&] {
    write_config(model_of(model).config(), out);
  });
}

maml_status maml_get_step(const maml_model* model, int64_t* out) {
  return guarded([&] {
    const MetaLearner& m = model_of(model);
    require_non_null(out, "out");
    *out = m.step();
  });
}

maml_status maml_get_device(const maml_model* model, int32_t* device_type, int32_t* device_index) {
  return guarded([&] {
    const MetaLearner& m = model_of(model);
    if (device_type) *device_type = m.device().is_cuda() ? MAML_DEVICE_CUDA : MAML_DEVICE_CPU;
    if (device_index) *device_index = m.device().has_index() ? m.device().index() : 0;
  });
}

maml_status maml_num_parameters(const maml_model* model, int64_t* out) {
  return guarded([&] {
    const MetaLearner& m = model_of(model);
    require_non_null(out, "out");
    *out = m.num_parameters();
  });
}

int32_t maml_cuda_device_count(void) {
  try {
    return cuda_device_count();
  } catch (...) {
    return 0;
  }
}

void maml_set_cuda_deterministic(int32_t deterministic) {
  try {
    set_cuda_deterministic(deterministic != 0);
  } catch (...) {  // never fails: LibTorch's switch is a flag
  }
}

maml_status maml_cuda_memory(int32_t device_index, int32_t reset_peak, int64_t* current_bytes,
                             int64_t* peak_bytes) {
  return guarded([&] {
    if (device_index < 0)
      throw invalid_argument("device_index is " + std::to_string(device_index) + ", expected >= 0");
    const DeviceMemory m = cuda_memory(device_index, reset_peak != 0);
    if (current_bytes) *current_bytes = m.current_bytes;
    if (peak_bytes) *peak_bytes = m.peak_bytes;
  });
}

maml_status maml_inner_lr_shape(const maml_model* model, int32_t* num_tensors, int32_t* num_steps) {
  return guarded([&] {
    const MetaLearner& m = model_of(model);
    if (num_tensors) *num_tensors = static_cast<int32_t>(m.layout().lslr.size());
    if (num_steps) *num_steps = m.config().inner_steps;
  });
}

maml_status maml_get_inner_lrs(const maml_model* model, float* rates, int64_t count) {
  return guarded([&] {
    const MetaLearner& m = model_of(model);
    require_non_null(rates, "rates");
    const std::vector<double> r = m.inner_lrs();
    if (count != static_cast<int64_t>(r.size()))
      throw invalid_argument("count is " + std::to_string(count) + ", the table has " +
                             std::to_string(r.size()) + " entries (num_tensors * num_steps)");
    for (size_t i = 0; i < r.size(); ++i) rates[i] = static_cast<float>(r[i]);
  });
}

maml_status maml_inner_lr_name(const maml_model* model, int32_t index, const char** name) {
  return guarded([&] {
    const MetaLearner& m = model_of(model);
    require_non_null(name, "name");
    *name = nullptr;
    // Row `index` of the table belongs to adapted tensor first_inner_tensor + index.
    const size_t rows = m.layout().lslr.size();
    if (index < 0 || static_cast<size_t>(index) >= rows)
      throw invalid_argument("index " + std::to_string(index) + " is outside [0, " + std::to_string(rows) + ")");
    *name = m.layout().adapted[static_cast<size_t>(first_inner_tensor(m.config()) + index)].name.c_str();
  });
}

}  // extern "C"
