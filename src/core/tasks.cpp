#include "core/tasks.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace mamlpp {

namespace {

constexpr int64_t kMaxElements = int64_t{1} << 40;

void check_finite(const float* x, int64_t count, const char* what) {
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(x[i])) {
      throw numerical_error(std::string(what) + " contains a non-finite value (" +
                            std::to_string(x[i]) + ") at element " + std::to_string(i));
    }
  }
}

void check_labels(const int32_t* y, int64_t count, int32_t n_way, const char* what) {
  for (int64_t i = 0; i < count; ++i) {
    if (y[i] < 0 || y[i] >= n_way) {
      throw invalid_argument(std::string(what) + "[" + std::to_string(i) + "] = " +
                             std::to_string(y[i]) + " is outside [0, n_way) = [0, " +
                             std::to_string(n_way) + ")");
    }
  }
}

std::vector<int64_t> batch_shape(const Config& cfg, int64_t tasks, int64_t n) {
  std::vector<int64_t> shape{tasks, n};
  for (int64_t d : example_shape(cfg)) shape.push_back(d);
  return shape;
}

at::Tensor examples(const float* x, int64_t tasks, int64_t n, const Config& cfg, at::Device device,
                    at::ScalarType dtype) {
  // from_blob wraps the caller's memory; .to() makes the one copy we keep (it may return the
  // same tensor on CPU float32, which is fine: it is only read during the call).
  return at::from_blob(const_cast<float*>(x), batch_shape(cfg, tasks, n), at::TensorOptions().dtype(at::kFloat))
      .to(device, dtype);
}

bool regression(const Config& cfg) { return cfg.task_kind == TaskKind::Regression; }

// Labels [T, n] (int64) or targets [T, n, n_outputs] (dtype), from the caller's array.
at::Tensor targets(const Config& cfg, const int32_t* y, const float* t, int64_t tasks, int64_t n, at::Device device,
                   at::ScalarType dtype) {
  if (regression(cfg))
    return at::from_blob(const_cast<float*>(t), {tasks, n, cfg.n_outputs}, at::TensorOptions().dtype(at::kFloat))
        .to(device, dtype);
  return at::from_blob(const_cast<int32_t*>(y), {tasks, n}, at::TensorOptions().dtype(at::kInt)).to(device, at::kLong);
}

// On a GPU: the four arrays packed into one pinned host buffer and copied with one transfer, then
// split and converted on the device.
TaskTensors packed_transfer(const Config& cfg, const HostTasks& h, bool with_query, at::Device device,
                            at::ScalarType dtype) {
  const int64_t per_example = example_numel(cfg);
  const int64_t per_target = regression(cfg) ? cfg.n_outputs : 1;
  const int64_t counts[4] = {h.num_tasks * h.support_size * per_example, h.num_tasks * h.support_size * per_target,
                             with_query ? h.num_tasks * h.query_size * per_example : 0,
                             with_query ? h.num_tasks * h.query_size * per_target : 0};
  const void* sources[4] = {h.support_x, regression(cfg) ? static_cast<const void*>(h.support_t) : h.support_y,
                            h.query_x, regression(cfg) ? static_cast<const void*>(h.query_t) : h.query_y};
  int64_t total = 0;
  for (int64_t c : counts) total += 4 * c;  // float32 and int32 alike
  at::Tensor host = at::empty({total}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
  int64_t offset = 0;
  for (int i = 0; i < 4; ++i) {
    if (counts[i] > 0) std::memcpy(host.data_ptr<uint8_t>() + offset, sources[i], static_cast<size_t>(4 * counts[i]));
    offset += 4 * counts[i];
  }
  const at::Tensor dev = host.to(device, /*non_blocking=*/true);
  offset = 0;
  auto part = [&](int i, at::ScalarType as) {
    const at::Tensor t = dev.narrow(0, offset, 4 * counts[i]).view(as);
    offset += 4 * counts[i];
    return t;
  };
  auto target_part = [&](int i, int64_t n) {
    return regression(cfg) ? part(i, at::kFloat).view({h.num_tasks, n, cfg.n_outputs}).to(dtype)
                           : part(i, at::kInt).view({h.num_tasks, n}).to(at::kLong);
  };
  TaskTensors t;
  t.support_x = part(0, at::kFloat).view(batch_shape(cfg, h.num_tasks, h.support_size)).to(dtype);
  t.support_y = target_part(1, h.support_size);
  if (with_query) {
    t.query_x = part(2, at::kFloat).view(batch_shape(cfg, h.num_tasks, h.query_size)).to(dtype);
    t.query_y = target_part(3, h.query_size);
  }
  return t;
}

// The targets given must suit the model: labels for a classifier, float targets for regression.
void check_target_kind(const Config& cfg, const int32_t* y, const float* t, const char* set) {
  const std::string s(set);
  if (regression(cfg)) {
    if (y != nullptr)
      throw invalid_argument(s + "_y (class labels) is set, but the model does regression (task_kind = regression, " +
                             std::to_string(cfg.n_outputs) + " outputs): give float targets in " + s +
                             "_t and leave " + s + "_y NULL");
    if (t == nullptr) throw invalid_argument(s + "_x and " + s + "_t must not be NULL");
  } else {
    if (t != nullptr)
      throw invalid_argument(s + "_t (regression targets) is set, but the model is a classifier (task_kind = "
                             "classification, " + std::to_string(cfg.n_way) + " classes): give int32 labels in " +
                             s + "_y and leave " + s + "_t NULL");
    if (y == nullptr) throw invalid_argument(s + "_x and " + s + "_y must not be NULL");
  }
}

}  // namespace

TaskTensors TaskTensors::slice(int64_t first, int64_t count) const {
  TaskTensors t;
  t.support_x = support_x.narrow(0, first, count);
  t.support_y = support_y.narrow(0, first, count);
  if (has_query()) {
    t.query_x = query_x.narrow(0, first, count);
    t.query_y = query_y.narrow(0, first, count);
  }
  return t;
}

TaskTensors to_task_tensors(const Config& cfg, const HostTasks& h, bool need_query,
                            at::Device device, at::ScalarType dtype) {
  if (h.num_tasks <= 0) throw invalid_argument("num_tasks must be > 0, got " + std::to_string(h.num_tasks));
  if (h.support_size <= 0)
    throw invalid_argument("support_size must be > 0, got " + std::to_string(h.support_size));
  if (h.support_x == nullptr) throw invalid_argument("support_x must not be NULL");
  check_target_kind(cfg, h.support_y, h.support_t, "support");
  if (need_query) {
    if (h.query_size <= 0)
      throw invalid_argument("query_size must be > 0, got " + std::to_string(h.query_size));
    if (h.query_x == nullptr) throw invalid_argument("query_x must not be NULL");
    check_target_kind(cfg, h.query_y, h.query_t, "query");
  }
  const int64_t per_example = example_numel(cfg);
  const int64_t per_target = regression(cfg) ? cfg.n_outputs : 1;
  // Query fields a call ignores are not validated, nor counted.
  const int64_t per_task = h.support_size + (need_query ? h.query_size : 0);
  if (h.num_tasks * per_task > kMaxElements / std::max(per_example, per_target))
    throw invalid_argument("the meta-batch is too large");
  check_finite(h.support_x, h.num_tasks * h.support_size * per_example, "support_x");
  if (regression(cfg)) check_finite(h.support_t, h.num_tasks * h.support_size * per_target, "support_t");
  else check_labels(h.support_y, h.num_tasks * h.support_size, cfg.n_way, "support_y");
  if (need_query) {
    check_finite(h.query_x, h.num_tasks * h.query_size * per_example, "query_x");
    if (regression(cfg)) check_finite(h.query_t, h.num_tasks * h.query_size * per_target, "query_t");
    else check_labels(h.query_y, h.num_tasks * h.query_size, cfg.n_way, "query_y");
  }
  if (device.is_cuda()) return packed_transfer(cfg, h, need_query, device, dtype);
  TaskTensors t;
  t.support_x = examples(h.support_x, h.num_tasks, h.support_size, cfg, device, dtype);
  t.support_y = targets(cfg, h.support_y, h.support_t, h.num_tasks, h.support_size, device, dtype);
  if (need_query) {
    t.query_x = examples(h.query_x, h.num_tasks, h.query_size, cfg, device, dtype);
    t.query_y = targets(cfg, h.query_y, h.query_t, h.num_tasks, h.query_size, device, dtype);
  }
  return t;
}

at::Tensor to_example_tensor(const Config& cfg, const float* x, int64_t n, at::Device device,
                             at::ScalarType dtype) {
  if (x == nullptr) throw invalid_argument("x must not be NULL");
  if (n <= 0) throw invalid_argument("n must be > 0, got " + std::to_string(n));
  if (n > kMaxElements / example_numel(cfg)) throw invalid_argument("n is too large");
  check_finite(x, n * example_numel(cfg), "x");
  return examples(x, 1, n, cfg, device, dtype).select(0, 0);
}

}  // namespace mamlpp
