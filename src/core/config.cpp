#include "core/config.hpp"

#include <cmath>
#include <string>

#include "common/error.hpp"
#include "core/budget.hpp"

namespace mamlpp {

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw invalid_argument("invalid config: " + what);
}

bool finite_positive(float v) { return std::isfinite(v) && v > 0.0f; }

}  // namespace

int64_t spatial_after_stages(const Config& cfg, int64_t size) {
  for (int32_t s = 0; s < cfg.num_stages; ++s) size = cfg.max_pool ? size / 2 : (size + 1) / 2;
  return size;
}

void validate(const Config& c) {
  require(c.n_way >= 2 && c.n_way <= 100000, "n_way must be in [2, 100000], got " + std::to_string(c.n_way));
  require(c.image_channels >= 1 && c.image_channels <= 4096,
          "image_channels must be in [1, 4096], got " + std::to_string(c.image_channels));
  require(c.image_height >= 1 && c.image_height <= 8192 && c.image_width >= 1 && c.image_width <= 8192,
          "image_height and image_width must be in [1, 8192]");
  require(c.num_stages >= 1 && c.num_stages <= 16,
          "num_stages must be in [1, 16], got " + std::to_string(c.num_stages));
  require(c.num_filters >= 1 && c.num_filters <= 4096,
          "num_filters must be in [1, 4096], got " + std::to_string(c.num_filters));
  if (c.max_pool) {
    require(spatial_after_stages(c, c.image_height) >= 1 && spatial_after_stages(c, c.image_width) >= 1,
            "a " + std::to_string(c.image_height) + "x" + std::to_string(c.image_width) +
                " image is too small for " + std::to_string(c.num_stages) +
                " max-pool stages (each halves it; need at least " +
                std::to_string(1LL << c.num_stages) + " pixels per side)");
  }
  require(c.inner_steps >= 1 && c.inner_steps <= 1000,
          "inner_steps must be in [1, 1000], got " + std::to_string(c.inner_steps));
  require(c.eval_inner_steps >= 1 && c.eval_inner_steps <= 1000,
          "eval_inner_steps must be in [1, 1000], got " + std::to_string(c.eval_inner_steps));
  require(std::isfinite(c.inner_lr), "inner_lr must be finite");
  require(static_cast<int32_t>(c.bn_stats) >= 0 && static_cast<int32_t>(c.bn_stats) <= 2,
          "bn_stats must be MAML_BN_RUNNING, MAML_BN_TRANSDUCTIVE or MAML_BN_SUPPORT");
  require(c.msl_epochs >= 0, "msl_epochs must be >= 0");
  require(c.first_order_epochs >= 0, "first_order_epochs must be >= 0");
  require(finite_positive(c.meta_lr), "meta_lr must be finite and > 0");
  require(std::isfinite(c.meta_lr_min) && c.meta_lr_min >= 0.0f && c.meta_lr_min <= c.meta_lr,
          "meta_lr_min must be in [0, meta_lr]");
  require(std::isfinite(c.adam_beta1) && c.adam_beta1 >= 0.0f && c.adam_beta1 < 1.0f,
          "adam_beta1 must be in [0, 1)");
  require(std::isfinite(c.adam_beta2) && c.adam_beta2 >= 0.0f && c.adam_beta2 < 1.0f,
          "adam_beta2 must be in [0, 1)");
  require(std::isfinite(c.grad_clip) && c.grad_clip >= 0.0f, "grad_clip must be >= 0 (0 = off)");
  require(c.epochs >= 1, "epochs must be >= 1");
  require(c.iters_per_epoch >= 1, "iters_per_epoch must be >= 1");
  require(static_cast<int32_t>(c.device_type) >= 0 && static_cast<int32_t>(c.device_type) <= 2,
          "device_type must be MAML_DEVICE_AUTO, MAML_DEVICE_CPU or MAML_DEVICE_CUDA, got " +
              std::to_string(static_cast<int32_t>(c.device_type)));
  require(c.device_index >= 0, "device_index must be >= 0");
  require(static_cast<int32_t>(c.task_batching) >= 0 && static_cast<int32_t>(c.task_batching) <= 2,
          "task_batching must be MAML_TASKS_AUTO, MAML_TASKS_LOOP or MAML_TASKS_BATCHED");
  require(c.num_threads >= 0 && c.num_threads <= 1024, "num_threads must be in [0, 1024]");
  require(static_cast<int32_t>(c.dtype) == 0 || static_cast<int32_t>(c.dtype) == 1,
          "dtype must be MAML_DTYPE_FLOAT32 or MAML_DTYPE_FLOAT64");
  const int64_t feat = static_cast<int64_t>(c.num_filters) *
                       (c.max_pool ? spatial_after_stages(c, c.image_height) *
                                         spatial_after_stages(c, c.image_width)
                                   : 1);
  require(feat * c.n_way <= (int64_t{1} << 31), "the linear head would be too large");
  check_config_budget(c);
}

std::string to_string(BnStats s) {
  switch (s) {
    case BnStats::Running: return "running";
    case BnStats::Transductive: return "transductive";
    case BnStats::Support: return "support";
  }
  return "?";
}

std::string to_string(TaskBatching t) {
  switch (t) {
    case TaskBatching::Auto: return "auto";
    case TaskBatching::Loop: return "loop";
    case TaskBatching::Batched: return "batched";
  }
  return "?";
}

}  // namespace mamlpp
