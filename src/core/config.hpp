// The C++ view of a model's configuration. Mirrors maml_config field for field, but belongs to
// the core: src/capi converts between the two. Torch-free.
#pragma once

#include <cstdint>
#include <string>

namespace mamlpp {

enum class BnStats : int32_t { Running = 0, Transductive = 1, Support = 2 };
enum class TaskBatching : int32_t { Auto = 0, Loop = 1, Batched = 2 };
enum class DeviceType : int32_t { Auto = 0, Cpu = 1, Cuda = 2 };
enum class DType : int32_t { Float32 = 0, Float64 = 1 };

struct Config {
  int32_t n_way = 5;
  int32_t image_channels = 1;
  int32_t image_height = 28;
  int32_t image_width = 28;

  int32_t num_stages = 4;
  int32_t num_filters = 64;
  bool max_pool = true;

  int32_t inner_steps = 5;
  int32_t eval_inner_steps = 5;
  float inner_lr = 0.1f;
  bool learn_inner_lr = true;
  bool per_step_bn = true;
  BnStats bn_stats = BnStats::Support;

  bool multi_step_loss = true;
  int32_t msl_epochs = 10;
  bool second_order = true;
  int32_t first_order_epochs = 50;
  float meta_lr = 1e-3f;
  float meta_lr_min = 1e-5f;
  float adam_beta1 = 0.9f;
  float adam_beta2 = 0.99f;
  float grad_clip = 0.0f;
  int32_t epochs = 150;
  int32_t iters_per_epoch = 500;

  DeviceType device_type = DeviceType::Auto;
  int32_t device_index = 0;
  uint64_t seed = 0;
  TaskBatching task_batching = TaskBatching::Auto;
  int32_t num_threads = 0;
  DType dtype = DType::Float32;
};

// Throws Error(InvalidArgument) naming the first field that makes no sense, including an image
// too small for the stages.
void validate(const Config& cfg);

// Spatial size after the backbone's stages (max-pool: floor(x/2) per stage; strided: ceil(x/2)).
int64_t spatial_after_stages(const Config& cfg, int64_t size);

// Number of BN rows per layer: inner_steps with per-step BN, else 1.
inline int32_t bn_rows(const Config& cfg) { return cfg.per_step_bn ? cfg.inner_steps : 1; }

std::string to_string(BnStats s);
std::string to_string(TaskBatching t);

}  // namespace mamlpp
