#include "core/tasks.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include "common/error.hpp"

namespace mamlpp {

namespace {

constexpr int64_t kMaxElements = int64_t{1} << 40;

int64_t image_numel(const Config& cfg) {
  return int64_t{cfg.image_channels} * cfg.image_height * cfg.image_width;
}

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

at::Tensor images(const float* x, int64_t tasks, int64_t n, const Config& cfg, at::Device device,
                  at::ScalarType dtype) {
  // from_blob wraps the caller's memory; .to() makes the one copy we keep (it may return the
  // same tensor on CPU float32, which is fine: it is only read during the call).
  return at::from_blob(const_cast<float*>(x),
                       {tasks, n, cfg.image_channels, cfg.image_height, cfg.image_width},
                       at::TensorOptions().dtype(at::kFloat))
      .to(device, dtype);
}

at::Tensor labels(const int32_t* y, int64_t tasks, int64_t n, at::Device device) {
  return at::from_blob(const_cast<int32_t*>(y), {tasks, n}, at::TensorOptions().dtype(at::kInt))
      .to(device, at::kLong);
}

// On a GPU: the four arrays packed into one pinned host buffer and copied with one transfer, then
// split and converted on the device.
TaskTensors packed_transfer(const Config& cfg, const HostTasks& h, bool with_query, at::Device device,
                            at::ScalarType dtype) {
  const int64_t per_image = image_numel(cfg);
  const int64_t counts[4] = {h.num_tasks * h.support_size * per_image, h.num_tasks * h.support_size,
                             with_query ? h.num_tasks * h.query_size * per_image : 0,
                             with_query ? h.num_tasks * h.query_size : 0};
  const void* sources[4] = {h.support_x, h.support_y, h.query_x, h.query_y};
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
  TaskTensors t;
  const std::vector<int64_t> image{cfg.image_channels, cfg.image_height, cfg.image_width};
  auto shape = [&](int64_t n) {
    std::vector<int64_t> s{h.num_tasks, n};
    s.insert(s.end(), image.begin(), image.end());
    return s;
  };
  t.support_x = part(0, at::kFloat).view(shape(h.support_size)).to(dtype);
  t.support_y = part(1, at::kInt).view({h.num_tasks, h.support_size}).to(at::kLong);
  if (with_query) {
    t.query_x = part(2, at::kFloat).view(shape(h.query_size)).to(dtype);
    t.query_y = part(3, at::kInt).view({h.num_tasks, h.query_size}).to(at::kLong);
  }
  return t;
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
  if (h.support_x == nullptr || h.support_y == nullptr)
    throw invalid_argument("support_x and support_y must not be NULL");
  if (need_query) {
    if (h.query_size <= 0)
      throw invalid_argument("query_size must be > 0, got " + std::to_string(h.query_size));
    if (h.query_x == nullptr || h.query_y == nullptr)
      throw invalid_argument("query_x and query_y must not be NULL");
  }
  const int64_t per_image = image_numel(cfg);
  // Query fields a call ignores are not validated, nor counted.
  const int64_t per_task = h.support_size + (need_query ? h.query_size : 0);
  if (h.num_tasks * per_task > kMaxElements / per_image)
    throw invalid_argument("the meta-batch is too large");
  check_finite(h.support_x, h.num_tasks * h.support_size * per_image, "support_x");
  check_labels(h.support_y, h.num_tasks * h.support_size, cfg.n_way, "support_y");
  if (need_query) {
    check_finite(h.query_x, h.num_tasks * h.query_size * per_image, "query_x");
    check_labels(h.query_y, h.num_tasks * h.query_size, cfg.n_way, "query_y");
  }
  if (device.is_cuda()) return packed_transfer(cfg, h, need_query, device, dtype);
  TaskTensors t;
  t.support_x = images(h.support_x, h.num_tasks, h.support_size, cfg, device, dtype);
  t.support_y = labels(h.support_y, h.num_tasks, h.support_size, device);
  if (need_query) {
    t.query_x = images(h.query_x, h.num_tasks, h.query_size, cfg, device, dtype);
    t.query_y = labels(h.query_y, h.num_tasks, h.query_size, device);
  }
  return t;
}

at::Tensor to_image_tensor(const Config& cfg, const float* x, int64_t n, at::Device device,
                           at::ScalarType dtype) {
  if (x == nullptr) throw invalid_argument("x must not be NULL");
  if (n <= 0) throw invalid_argument("n must be > 0, got " + std::to_string(n));
  if (n > kMaxElements / image_numel(cfg)) throw invalid_argument("n is too large");
  check_finite(x, n * image_numel(cfg), "x");
  return images(x, 1, n, cfg, device, dtype).select(0, 0);
}

}  // namespace mamlpp
