// The one table of configuration fields. Every layer that lists config fields expands this table:
// the C++ Config (core/config.hpp), its validation, the maml_config <-> Config conversion and its
// layout checks (src/capi), the file header's JSON (src/io), the command line's keys, defaults and
// decoding, and `mamlpp inspect` (src/cli). Adding a field means one row here and the field at
// the end of maml_config in include/mamlpp/mamlpp.h (then the bindings' mirrors, which a test
// checks against the C compiler's layout).
//
// X(name, type, default, min, max, since, choices, doc)
//   name     the field's name in maml_config, Config, files and on the command line
//   type     int32_t | float | bool | uint64_t | HiddenSizes | one of the enums of
//            core/config.hpp; in the C struct bools and enums are int32_t and HiddenSizes is
//            int32_t[kMaxHiddenLayers]
//   default  the value maml_config_init writes
//   min,max  the accepted range, inclusive (ints and floats; floats must also be finite); bools
//            are 0 or 1 and enums index `choices`, whatever these say; uint64_t takes any value;
//            HiddenSizes: the range of each entry in use (validate() checks the count)
//   since    the file format minor version that added the field (a file of an older minor gets
//            the default); also the ABI minor version that appended it to maml_config
//   choices  enums: the names of the values 0, 1, 2, ... separated by '|' ("" otherwise)
//   doc      one line for --help, --list-keys and inspect
//
// Rows are in maml_config's order; the table must never be reordered, only appended to.
// Torch-free.
#pragma once

#define MAMLPP_CONFIG_FIELDS(X)                                                                          \
  /* the task and the images */                                                                          \
  X(n_way, int32_t, 5, 2, 100000, 0, "", "classes per task (N)")                                         \
  X(image_channels, int32_t, 1, 1, 4096, 0, "", "image channels C: 1 grey, 3 RGB")                       \
  X(image_height, int32_t, 28, 1, 8192, 0, "", "image height H in pixels")                               \
  X(image_width, int32_t, 28, 1, 8192, 0, "", "image width W in pixels")                                 \
  /* the backbone */                                                                                     \
  X(num_stages, int32_t, 4, 1, 16, 0, "", "conv blocks of the backbone")                                 \
  X(num_filters, int32_t, 64, 1, 4096, 0, "", "channels of every conv")                                  \
  X(max_pool, bool, true, 0, 1, 0, "",                                                                   \
    "max-pool after each conv (false: stride-2 convs + global average pool)")                            \
  /* the inner loop */                                                                                   \
  X(inner_steps, int32_t, 5, 1, 1000, 0, "", "inner (adaptation) steps in meta-training, S")             \
  X(eval_inner_steps, int32_t, 5, 1, 1000, 0, "", "inner steps in evaluation, adapt and predict")        \
  X(inner_lr, float, 0.1f, 0, 100, 0, "", "initial inner learning rate (every LSLR entry starts here)")  \
  X(learn_inner_lr, bool, true, 0, 1, 0, "", "LSLR: learn one inner rate per adapted tensor per step")   \
  X(per_step_bn, bool, true, 0, 1, 0, "", "BNRS + BNWB: one batch-norm row per inner step")              \
  X(bn_stats, BnStats, BnStats::Support, 0, 2, 0, "running|transductive|support",                        \
    "batch-norm statistics for queries and predictions")                                                 \
  /* the outer loop */                                                                                   \
  X(multi_step_loss, bool, true, 0, 1, 0, "", "MSL: weighted query losses of every inner step")          \
  X(msl_epochs, int32_t, 10, 0, 1000000, 0, "", "MSL is annealed over (and used for) this many epochs")  \
  X(second_order, bool, true, 0, 1, 0, "", "second-order meta-gradients (after first_order_epochs)")     \
  X(first_order_epochs, int32_t, 50, 0, 1000000, 0, "",                                                  \
    "DA: first-order meta-gradients for this many epochs")                                               \
  X(meta_lr, float, 1e-3f, 1e-12, 10, 0, "", "Adam learning rate at the start")                          \
  X(meta_lr_min, float, 1e-5f, 0, 10, 0, "", "CA: cosine-annealed down to this by the last epoch")       \
  X(adam_beta1, float, 0.9f, 0, 0.999999, 0, "", "Adam beta1")                                           \
  X(adam_beta2, float, 0.99f, 0, 0.999999, 0, "", "Adam beta2")                                          \
  X(grad_clip, float, 0.0f, 0, 1e9, 0, "",                                                               \
    "clamp each meta-gradient element of the network to [-v, v]; 0 = off")                               \
  X(epochs, int32_t, 150, 1, 1000000, 0, "", "epochs to train (also the schedules' horizon)")            \
  X(iters_per_epoch, int32_t, 500, 1, 100000000, 0, "", "meta-train steps per epoch")                    \
  /* execution */                                                                                        \
  X(device_type, DeviceType, DeviceType::Auto, 0, 2, 0, "auto|cpu|cuda", "where to compute")             \
  X(device_index, int32_t, 0, 0, 1023, 0, "", "CUDA device ordinal")                                     \
  X(seed, uint64_t, 0, 0, 0, 0, "", "initialisation seed")                                               \
  X(task_batching, TaskBatching, TaskBatching::Auto, 0, 2, 0, "auto|loop|batched",                       \
    "inner loop over the tasks of a meta-batch")                                                         \
  X(num_threads, int32_t, 0, 0, 1024, 0, "", "CPU threads for the tasks of a meta-batch; 0 = all cores") \
  X(dtype, DType, DType::Float32, 0, 1, 0, "float32|float64", "parameter precision")                     \
  /* 1.1 */                                                                                              \
  X(grad_clip_lslr, bool, false, 0, 1, 1, "",                                                            \
    "grad_clip also clamps the inner rates' meta-gradients (the reference clamps only the network)") \
  /* 1.2 */                                                                                              \
  X(adapt_last_layers, int32_t, 0, 0, 17, 2, "",                                                         \
    "ANIL: the inner loop adapts only the last k layers (1: the head); 0 = every layer")      \
  /* 1.3: vector inputs and regression */                                                                \
  X(backbone, Backbone, Backbone::Conv, 0, 1, 3, "conv|mlp",                                             \
    "conv: 3x3 conv stages over images; mlp: hidden linear layers over input_features")                  \
  X(input_features, int32_t, 1, 1, 1048576, 3, "", "mlp: features per example (D)")                      \
  X(hidden_layers, int32_t, 2, 1, 8, 3, "", "mlp: hidden layers (L), each linear -> BN -> activation")   \
  X(hidden_sizes, HiddenSizes, kDefaultHiddenSizes, 1, 65536, 3, "",                                      \
    "mlp: units of hidden layers 0..L-1 (entries past hidden_layers are 0)")                             \
  X(activation, Activation, Activation::LeakyRelu, 0, 1, 3, "leaky_relu|relu",                           \
    "after every conv stage or hidden layer: leaky ReLU (slope 0.01) or ReLU")                           \
  X(task_kind, TaskKind, TaskKind::Classification, 0, 1, 3, "classification|regression",                 \
    "classification: n_way classes, cross-entropy; regression: n_outputs values, mean squared error")    \
  X(n_outputs, int32_t, 1, 1, 100000, 3, "", "regression: real-valued outputs per example")              \
  X(batch_norm, bool, true, 0, 1, 3, "",                                                                 \
    "batch norm after every conv stage or hidden layer (false: none, as the MAML paper's sinusoid MLP)")
