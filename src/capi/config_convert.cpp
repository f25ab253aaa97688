#include "capi/config_convert.hpp"

#include <cstring>
#include <string>

#include "common/error.hpp"

namespace mamlpp::capi {

maml_config default_c_config() { return to_c(Config{}); }

void write_config(const Config& config, maml_config* out) {
  if (out == nullptr) throw invalid_argument("out must not be NULL");
  if (out->struct_size < kConfigV1Size)
    throw invalid_argument("out->struct_size must be set to sizeof(maml_config)");
  const maml_config c = to_c(config);
  const uint32_t size = out->struct_size;
  std::memset(out, 0, size);
  std::memcpy(out, &c, size < sizeof(c) ? size : sizeof(c));
  out->struct_size = size;
}

Config from_c(const maml_config& c) {
  if (c.reserved0 != 0 || c.reserved1 != 0)
    throw unsupported("maml_config sets a reserved field this libmamlpp " MAMLPP_VERSION_STRING
                      " does not know (reserved0/reserved1 must be 0); upgrade the library");
  Config o;
  o.n_way = c.n_way;
  o.image_channels = c.image_channels;
  o.image_height = c.image_height;
  o.image_width = c.image_width;
  o.num_stages = c.num_stages;
  o.num_filters = c.num_filters;
  o.max_pool = c.max_pool != 0;
  o.inner_steps = c.inner_steps;
  o.eval_inner_steps = c.eval_inner_steps;
  o.inner_lr = c.inner_lr;
  o.learn_inner_lr = c.learn_inner_lr != 0;
  o.per_step_bn = c.per_step_bn != 0;
  o.bn_stats = static_cast<BnStats>(c.bn_stats);
  o.multi_step_loss = c.multi_step_loss != 0;
  o.msl_epochs = c.msl_epochs;
  o.second_order = c.second_order != 0;
  o.first_order_epochs = c.first_order_epochs;
  o.meta_lr = c.meta_lr;
  o.meta_lr_min = c.meta_lr_min;
  o.adam_beta1 = c.adam_beta1;
  o.adam_beta2 = c.adam_beta2;
  o.grad_clip = c.grad_clip;
  o.epochs = c.epochs;
  o.iters_per_epoch = c.iters_per_epoch;
  o.device_type = static_cast<DeviceType>(c.device_type);
  o.device_index = c.device_index;
  o.seed = c.seed;
  o.task_batching = static_cast<TaskBatching>(c.task_batching);
  o.num_threads = c.num_threads;
  o.dtype = static_cast<DType>(c.dtype);
  return o;
}

maml_config to_c(const Config& o) {
  maml_config c{};
  c.struct_size = sizeof(maml_config);
  c.n_way = o.n_way;
  c.image_channels = o.image_channels;
  c.image_height = o.image_height;
  c.image_width = o.image_width;
  c.num_stages = o.num_stages;
  c.num_filters = o.num_filters;
  c.max_pool = o.max_pool;
  c.inner_steps = o.inner_steps;
  c.eval_inner_steps = o.eval_inner_steps;
  c.inner_lr = o.inner_lr;
  c.learn_inner_lr = o.learn_inner_lr;
  c.per_step_bn = o.per_step_bn;
  c.bn_stats = static_cast<int32_t>(o.bn_stats);
  c.multi_step_loss = o.multi_step_loss;
  c.msl_epochs = o.msl_epochs;
  c.second_order = o.second_order;
  c.first_order_epochs = o.first_order_epochs;
  c.meta_lr = o.meta_lr;
  c.meta_lr_min = o.meta_lr_min;
  c.adam_beta1 = o.adam_beta1;
  c.adam_beta2 = o.adam_beta2;
  c.grad_clip = o.grad_clip;
  c.epochs = o.epochs;
  c.iters_per_epoch = o.iters_per_epoch;
  c.device_type = static_cast<int32_t>(o.device_type);
  c.device_index = o.device_index;
  c.seed = o.seed;
  c.task_batching = static_cast<int32_t>(o.task_batching);
  c.num_threads = o.num_threads;
  c.dtype = static_cast<int32_t>(o.dtype);
  return c;
}

}  // namespace mamlpp::capi
