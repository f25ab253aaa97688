/*
 * mamlpp.h — the public C interface of libmamlpp, a MAML++ meta-learning library.
 *
 * libmamlpp meta-trains a small convolutional network with MAML++ ("How to train your MAML",
 * Antoniou, Edwards and Storkey, ICLR 2019), saves the learned meta-initialisation, and later
 * adapts it to a new task from a handful of labelled examples and predicts. This header is the
 * whole contract: plain C99, usable from C++, and from any language with a C FFI.
 *
 * The header reads from simple to advanced:
 *   1. Versions and errors
 *   2. Load, adapt, predict, free: what a product that ships a trained file needs
 *   3. Training: configuration, create, meta-train, evaluate
 *   4. Files: save to a path or to memory
 *   5. Diagnostics: what the model learned (LSLR), devices, memory
 *   6. Several processes: distributed meta-training under torchrun (c10d)
 *
 * ---------------------------------------------------------------------------------------------
 * The embedding path (error handling shortened to one macro):
 *
 *   #include <mamlpp/mamlpp.h>
 *   #include <stdio.h>
 *
 *   #define CHECK(call) do { maml_status s_ = (call); if (s_ != MAML_OK) {                 \
 *       fprintf(stderr, "%s: %s\n", maml_status_string(s_), maml_last_error()); return 1; } \
 *     } while (0)
 *
 *   int main(void) {
 *     maml_model* model = NULL;
 *     CHECK(maml_load("omniglot.maml", MAML_DEVICE_AUTO, 0, &model));
 *     maml_learner* learner = NULL;
 *     CHECK(maml_adapt(model, support_x, support_y, 5, &learner));  // 5 labelled examples
 *     int32_t labels[10];
 *     CHECK(maml_predict(learner, new_x, 10, NULL, labels));
 *     maml_learner_free(learner);
 *     maml_free(model);
 *     return 0;
 *   }
 *
 * Meta-training the file in the first place:
 *
 *     maml_config cfg;
 *     maml_config_init(&cfg);            // MAML++ Omniglot 5-way 1-shot defaults
 *     cfg.num_filters = 32;              // change what you need
 *     maml_model* model = NULL;
 *     CHECK(maml_create(&cfg, &model));
 *     // One meta-batch: num_tasks tasks, each with support_size + query_size images of
 *     // C x H x W floats (NCHW, host memory) and int32 labels in [0, n_way).
 *     maml_tasks batch = { sizeof(maml_tasks) };
 *     batch.num_tasks = 8; batch.support_size = 5; batch.query_size = 5;
 *     batch.support_x = my_support_x; batch.support_y = my_support_y;
 *     batch.query_x = my_query_x;     batch.query_y = my_query_y;
 *     maml_metrics metrics = { sizeof(maml_metrics) };
 *     for (int it = 0; it < 1000; ++it) {
 *       fill_next_meta_batch(&batch);    // yours: an episode sampler
 *       CHECK(maml_meta_train_step(model, &batch, &metrics));
 *     }
 *     CHECK(maml_save(model, "omniglot.maml"));
 *
 * ---------------------------------------------------------------------------------------------
 * Conventions (the same for every call):
 *
 *  - Errors. Every call that can fail returns a maml_status: MAML_OK (0) or a negative code.
 *    The message of the last failure on the calling thread is maml_last_error(). No call ever
 *    throws, aborts or exits. A call that fails changes nothing: the model, its optimiser state
 *    and its step counter are exactly as before, and output handles are set to NULL.
 *  - Ownership. Handles (maml_model, maml_learner) are opaque; each has its free call, and every
 *    free call accepts NULL. Arrays passed in are read during the call only (the library copies
 *    what it keeps). Arrays passed out are allocated by the caller, except maml_save_buffer's
 *    and the metadata strings, which are released with maml_buffer_free. Output handles are always the last argument.
 *  - Structs begin with uint32_t struct_size, which the caller sets to sizeof(the struct) (the
 *    init calls and the `{ sizeof(...) }` initialisers do it). Structs only ever grow at the end:
 *    a program built against an older header passes its smaller struct_size, fields it lacks take
 *    their defaults, and the library never reads or writes a byte past struct_size. The sizes of
 *    the 1.0 structs are frozen (maml_config 136, maml_tasks 48, maml_metrics 40 bytes). Fields
 *    are plain integers and floats (booleans are int32_t 0/1). Structs have no implicit padding:
 *    fields named reserved* are the padding, must be 0 on input (a non-zero value is
 *    MAML_E_UNSUPPORTED: it may be a later version's field) and are 0 on output.
 *  - Data. Images are float32 in NCHW order (example, channel, row, column); an MLP model's
 *    examples are input_features float32 each. Labels are int32 in [0, n_way); a regression
 *    model's targets are n_outputs float32 per example. NaN or infinite inputs and targets are
 *    refused with MAML_E_NUMERICAL. The library cannot see what a pointer holds, only how many
 *    floats per example the model reads: the bindings and `mamlpp` check shapes (an image folder
 *    given to an MLP model, vectors given to a conv model) before calling.
 *  - Threads. All calls are thread-safe for different handles. For one maml_model, the calls
 *    that change it, maml_meta_train_step and maml_set_metadata, need exclusive access (as does
 *    maml_free); every call that takes a const maml_model* (maml_evaluate, maml_adapt,
 *    maml_adapt_tasks, maml_get_*, maml_list_metadata, maml_inner_lr_*, maml_num_parameters,
 *    maml_save*) may run from many threads at once while no such change runs. For one maml_learner, every call but maml_learner_free may run from
 *    many threads at once. The library takes no locks for you across those rules.
 *  - Versions. "Since 1.x" says which release added a call or field. Calls marked EXPERIMENTAL
 *    rest on LibTorch internals: they keep their signature within ABI 1, but what they report may
 *    change. Bumping MAMLPP_ABI_VERSION means a binary-incompatible change and a new SONAME
 *    (libmamlpp.so.<ABI>). Compare maml_abi_version() with MAMLPP_ABI_VERSION at start-up.
 */
#ifndef MAMLPP_MAMLPP_H
#define MAMLPP_MAMLPP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(MAMLPP_BUILDING)
#    define MAML_API __declspec(dllexport)
#  else
#    define MAML_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define MAML_API __attribute__((visibility("default")))
#else
#  define MAML_API
#endif

/* ============================================================================================ */
/* 1. Versions and errors                                                                        */
/* ============================================================================================ */

#define MAMLPP_VERSION_MAJOR 1
#define MAMLPP_VERSION_MINOR 3
#define MAMLPP_VERSION_PATCH 0
#define MAMLPP_STRINGIFY_(x) #x
#define MAMLPP_STRINGIFY(x) MAMLPP_STRINGIFY_(x)
/** "major.minor.patch", built from the three numbers above (held only there). */
#define MAMLPP_VERSION_STRING                                                                      \
  MAMLPP_STRINGIFY(MAMLPP_VERSION_MAJOR) "." MAMLPP_STRINGIFY(MAMLPP_VERSION_MINOR) "."           \
      MAMLPP_STRINGIFY(MAMLPP_VERSION_PATCH)
/** Encoded as major*10000 + minor*100 + patch. */
#define MAMLPP_VERSION_NUMBER \
  (MAMLPP_VERSION_MAJOR * 10000 + MAMLPP_VERSION_MINOR * 100 + MAMLPP_VERSION_PATCH)
/** The binary interface version; the shared library's SONAME is libmamlpp.so.<this>. */
#define MAMLPP_ABI_VERSION 1

/** The library's version as "major.minor.patch". Static storage; never NULL. Since 1.0. */
MAML_API const char* maml_version_string(void);
/** The library's version as MAMLPP_VERSION_NUMBER encodes it. Since 1.0. */
MAML_API int32_t maml_version_number(void);
/** The library's ABI version; a program should refuse to run if it differs from the
 *  MAMLPP_ABI_VERSION it was compiled with. Since 1.0. */
MAML_API int32_t maml_abi_version(void);

/** The result of every fallible call. Values are frozen. */
typedef int32_t maml_status;

#define MAML_OK 0
/** A NULL pointer, a size <= 0, a label outside [0, n_way), a config that makes no sense. */
#define MAML_E_INVALID_ARGUMENT (-1)
/** A file could not be opened, read, written, synced or renamed, or is not a regular file. */
#define MAML_E_IO (-2)
/** A file or buffer is not a valid meta-initialisation (corrupt, truncated, newer major). */
#define MAML_E_FORMAT (-3)
/** The requested device does not exist (e.g. CUDA without a GPU) or tensors live elsewhere. */
#define MAML_E_DEVICE (-4)
/** Host or device memory ran out, or the request would need more than the documented limits. */
#define MAML_E_OUT_OF_MEMORY (-5)
/** NaN or infinity in an input, a loss or a gradient. Nothing was changed. */
#define MAML_E_NUMERICAL (-6)
/** A valid request this build or configuration does not support. */
#define MAML_E_UNSUPPORTED (-7)
/** A bug in libmamlpp or LibTorch; please report it with maml_last_error(). */
#define MAML_E_INTERNAL (-8)
/** A collective of a process group failed: a peer process exited or timed out, the ranks
 *  disagree (config, model, library version), or another rank refused the step. Since 1.1. */
#define MAML_E_DISTRIBUTED (-9)

/** The message of the last failed call on this thread ("" if none). Owned by the library,
 *  valid until the next libmamlpp call on the same thread. Thread-local. Since 1.0. */
MAML_API const char* maml_last_error(void);
/** A short constant name for a status ("MAML_E_IO", ...); "unknown status" for others.
 *  Static storage. Since 1.0. */
MAML_API const char* maml_status_string(maml_status status);

/* ============================================================================================ */
/* 2. Load, adapt, predict, free                                                                 */
/* ============================================================================================ */

/** A meta-learner: meta-parameters, LSLR table, per-step BN, Adam state and step counter. */
typedef struct maml_model maml_model;
/** A model adapted to one task: fast weights (and support statistics). Independent of the model
 *  it came from: freeing the model does not invalidate it. */
typedef struct maml_learner maml_learner;
/** The configuration of a model (section 3). */
typedef struct maml_config maml_config;
/** A meta-batch of tasks (section 3). */
typedef struct maml_tasks maml_tasks;
/** What a training or evaluation call measured (section 3). */
typedef struct maml_metrics maml_metrics;

/* Devices: maml_load*(device_type), maml_config.device_type */
#define MAML_DEVICE_AUTO 0 /**< CUDA when LibTorch sees a GPU, else CPU. */
#define MAML_DEVICE_CPU 1
#define MAML_DEVICE_CUDA 2

/** Loads a model saved by maml_save onto the given device (MAML_DEVICE_*; a file saved on CUDA
 *  loads on CPU and the reverse). Only regular files are read: a directory, FIFO or device is
 *  refused without reading from it. A model loaded from an inference-only file can be trained:
 *  its Adam moments and bias correction start afresh, while the schedules (MSL, DA, cosine)
 *  continue from the saved step. *out receives the handle, NULL on error. Errors:
 *  MAML_E_INVALID_ARGUMENT, MAML_E_IO (cannot read, not a regular file), MAML_E_FORMAT
 *  (malformed, or a newer major format version), MAML_E_DEVICE. Since 1.0. */
MAML_API maml_status maml_load(const char* path, int32_t device_type, int32_t device_index,
                               maml_model** out);

/** maml_load from size bytes at data (read during the call only). An empty or short buffer is a
 *  malformed file: MAML_E_FORMAT, like an empty file on disk. Since 1.0. */
MAML_API maml_status maml_load_buffer(const void* data, size_t size, int32_t device_type,
                                      int32_t device_index, maml_model** out);

/** Adapts the model to one task from n_support labelled examples (support_x: n_support*C*H*W
 *  floats; support_y: n_support labels in [0, n_way)), taking eval_inner_steps inner steps with
 *  the learned rates. The model is not changed. The support set need not cover every class: a
 *  class without examples keeps only what the meta-initialisation says about it. *out receives
 *  a new learner (free it with maml_learner_free), NULL on error. Threading: may run on one
 *  model from many threads at once. Errors: MAML_E_INVALID_ARGUMENT, MAML_E_NUMERICAL,
 *  MAML_E_OUT_OF_MEMORY. Since 1.0. */
MAML_API maml_status maml_adapt(const maml_model* model, const float* support_x,
                                const int32_t* support_y, int32_t n_support, maml_learner** out);

/** Classifies n examples (x: n*E floats, E = C*H*W, or input_features for the MLP backbone).
 *  logits (n*n_way floats) and labels (n ints) are caller-allocated; either may be NULL. A
 *  regression learner writes n*n_outputs predicted values into logits and refuses labels (must
 *  be NULL). With bn_stats RUNNING or SUPPORT each example's result is
 *  independent of the others in the call. Threading: may run on one learner from many threads at
 *  once. Errors: MAML_E_INVALID_ARGUMENT, MAML_E_NUMERICAL, MAML_E_OUT_OF_MEMORY. Since 1.0. */
MAML_API maml_status maml_predict(const maml_learner* learner, const float* x, int32_t n,
                                  float* logits, int32_t* labels);

/** maml_adapt for a regression model (task_kind MAML_TASK_REGRESSION): support_t holds
 *  n_support * n_outputs finite float targets. maml_predict then writes the predicted values
 *  (n * n_outputs floats) into its `logits` argument; its `labels` argument must be NULL. A
 *  classifier refuses this call, and a regression model refuses maml_adapt, with
 *  MAML_E_INVALID_ARGUMENT naming the task kind. Otherwise as maml_adapt. Since 1.3. */
MAML_API maml_status maml_adapt_regression(const maml_model* model, const float* support_x,
                                           const float* support_t, int32_t n_support,
                                           maml_learner** out);

/** Adapts num_tasks tasks at once (batch->support_*; the query fields are ignored: neither read
 *  nor checked) and writes one new learner per task into out[0..num_tasks). All or nothing: on
 *  error every out[i] is NULL. Uses the task-batched inner loop when the model's task_batching
 *  selects it. Since 1.0. */
MAML_API maml_status maml_adapt_tasks(const maml_model* model, const maml_tasks* batch,
                                      maml_learner** out);

/** The width of a learner's prediction rows: the number of classes it predicts (n_way), or for a
 *  regression model its n_outputs. Since 1.0 (regression: 1.3). */
MAML_API maml_status maml_learner_n_way(const maml_learner* learner, int32_t* out);

/** The config of the model a learner was adapted from (image shape, n_way, ...) into *out
 *  (out->struct_size must be set). Since 1.0. */
MAML_API maml_status maml_learner_get_config(const maml_learner* learner, maml_config* out);

/** Frees a learner. NULL is a no-op. Since 1.0. */
MAML_API void maml_learner_free(maml_learner* learner);

/** Frees a model. NULL is a no-op. Learners adapted from it stay valid. Since 1.0. */
MAML_API void maml_free(maml_model* model);

/* ============================================================================================ */
/* 3. Training: configuration, create, meta-train, evaluate                                      */
/* ============================================================================================ */

/* maml_config.bn_stats: the statistics batch norm normalises query examples and predictions
 * with. Inner-loop (support) passes always use the support set's own statistics. */
#define MAML_BN_RUNNING 0      /**< per-step running statistics, updated by meta-training (BNRS) */
#define MAML_BN_TRANSDUCTIVE 1 /**< statistics of the batch being evaluated (the reference) */
#define MAML_BN_SUPPORT 2      /**< statistics of the support set at the adapted weights, kept in
                                    the learner (the default: best measured accuracy, and one
                                    example alone predicts as it would inside a batch) */

/* maml_config.task_batching: how the inner loop runs the tasks of a meta-batch. */
#define MAML_TASKS_AUTO 0    /**< the path measured faster on the model's device */
#define MAML_TASKS_LOOP 1    /**< one task after another (the reference's way) */
#define MAML_TASKS_BATCHED 2 /**< all tasks at once: stacked weights, grouped convolutions */

/* maml_config.dtype: the precision of parameters and arithmetic (inputs are always float32). */
#define MAML_DTYPE_FLOAT32 0
#define MAML_DTYPE_FLOAT64 1

/* maml_config.backbone: what one example is and what processes it. Since 1.3. */
#define MAML_BACKBONE_CONV 0 /**< images (C x H x W floats) through num_stages 3x3 conv stages */
#define MAML_BACKBONE_MLP 1  /**< vectors (input_features floats) through hidden_layers linear layers */
#define MAML_MAX_HIDDEN_LAYERS 8

/* maml_config.activation. Since 1.3. */
#define MAML_ACTIVATION_LEAKY_RELU 0 /**< slope 0.01 below zero (the reference's) */
#define MAML_ACTIVATION_RELU 1       /**< the MAML paper's sinusoid network */

/* maml_config.task_kind. Since 1.3. */
#define MAML_TASK_CLASSIFICATION 0 /**< n_way classes, int32 labels, cross-entropy, accuracy */
#define MAML_TASK_REGRESSION 1     /**< n_outputs real values per example, float targets, mean
                                        squared error (over examples and outputs); accuracy is
                                        not applicable and reported as NaN */

/** Everything that defines a model and its meta-training. maml_config_init() fills the MAML++
 *  defaults for Omniglot 5-way 1-shot (the paper's values); every MAML++ component is a switch
 *  and switching all of them off gives plain second-order MAML (Finn et al. 2017):
 *  learn_inner_lr = 0, per_step_bn = 0, multi_step_loss = 0, first_order_epochs = 0,
 *  meta_lr_min = meta_lr, bn_stats = MAML_BN_TRANSDUCTIVE.
 *  maml_create refuses a field outside its range with MAML_E_INVALID_ARGUMENT naming it. */
struct maml_config {
  uint32_t struct_size;     /**< sizeof(maml_config) */
  /* task and images */
  int32_t n_way;            /**< classes per task, N (5); [2, 100000] */
  int32_t image_channels;   /**< C (1); [1, 4096] */
  int32_t image_height;     /**< H (28); [1, 8192] */
  int32_t image_width;      /**< W (28); [1, 8192] */
  /* backbone: num_stages x [3x3 conv -> BN -> LeakyReLU -> 2x2 max-pool] -> linear */
  int32_t num_stages;       /**< conv blocks (4); [1, 16] */
  int32_t num_filters;      /**< channels of every conv (64; 48 for Mini-ImageNet); [1, 4096] */
  int32_t max_pool;         /**< 1: max-pool after each conv; 0: stride-2 convs + global avg pool */
  /* inner loop */
  int32_t inner_steps;      /**< S, adaptation steps in meta-training (5); [1, 1000] */
  int32_t eval_inner_steps; /**< adaptation steps in evaluation and maml_adapt (5); steps past
                                 inner_steps reuse the last step's rates and BN row; [1, 1000] */
  float inner_lr;           /**< initial inner learning rate alpha (0.1); [0, 100] */
  int32_t learn_inner_lr;   /**< LSLR: learn one rate per adapted tensor per step (1) */
  int32_t per_step_bn;      /**< BNRS + BNWB: one BN row (gamma, beta, statistics) per step (1) */
  int32_t bn_stats;         /**< MAML_BN_* (MAML_BN_SUPPORT) */
  /* outer loop */
  int32_t multi_step_loss;  /**< MSL: weighted query losses of every step (1) */
  int32_t msl_epochs;       /**< MSL is annealed over, and used for, this many epochs (10) */
  int32_t second_order;     /**< 1: second-order meta-gradients (after DA); 0: first order (1) */
  int32_t first_order_epochs; /**< DA: first order for this many epochs, then second (50) */
  float meta_lr;            /**< Adam learning rate at epoch 0 (0.001); (0, 10] */
  float meta_lr_min;        /**< CA: cosine-annealed down to this at the last epoch (1e-5);
                                 [0, meta_lr] */
  float adam_beta1;         /**< (0.9); [0, 1) */
  float adam_beta2;         /**< (0.99); [0, 1) */
  float grad_clip;          /**< clamp each meta-gradient element of the network (weights,
                                 biases, BN gamma and beta) to [-v, v], as the reference does;
                                 0 = off (0). See grad_clip_lslr. */
  int32_t epochs;           /**< schedule horizon in epochs (150) */
  int32_t iters_per_epoch;  /**< meta-train steps per epoch (500); epoch = step / this */
  /* execution */
  int32_t device_type;      /**< MAML_DEVICE_* (MAML_DEVICE_AUTO) */
  int32_t device_index;     /**< CUDA device ordinal (0) */
  int32_t reserved0;        /**< must be 0 (explicit padding a later version may use) */
  uint64_t seed;            /**< initialisation seed (0) */
  int32_t task_batching;    /**< MAML_TASKS_* (MAML_TASKS_AUTO) */
  int32_t num_threads;      /**< CPU worker threads for tasks of a meta-batch; 0 = cores (0) */
  int32_t dtype;            /**< MAML_DTYPE_* (MAML_DTYPE_FLOAT32) */
  int32_t reserved1;        /**< must be 0 (explicit padding a later version may use) */
  /* ---- the 1.0 struct ends here (136 bytes) ---- */
  int32_t grad_clip_lslr;   /**< 1: grad_clip also clamps the inner rates' meta-gradients
                                 (libmamlpp 1.0's behaviour; the reference never clamps them) (0).
                                 Since 1.1. */
  int32_t adapt_last_layers; /**< ANIL (Raghu et al. 2020): the inner loop, in meta-training and
                                 in maml_adapt, adapts only the last k layers (1: the linear head;
                                 each conv stage and the head count one layer) and the layers
                                 before keep the meta-weights; the inner-rate table then has rows
                                 only for the adapted tensors. 0: every layer (0); [0, num_stages
                                 + 1]. Since 1.2 (1.1 named this padding reserved2, which had to
                                 be 0: a 1.1 program gets every layer adapted, as before; source
                                 that zeroed reserved2 by name needs the new name). */
  /* ---- the 1.2 struct ends here (144 bytes) ---- */
  /* 1.3: vector inputs (MLP backbone) and regression. Defaults keep the 1.2 model: a conv
   * classifier. */
  int32_t backbone;         /**< MAML_BACKBONE_* (MAML_BACKBONE_CONV). Since 1.3. */
  int32_t input_features;   /**< MLP: features per example, D; an example is D floats (1);
                                 [1, 1048576]. Since 1.3. */
  int32_t hidden_layers;    /**< MLP: hidden layers L, each linear -> BN -> activation (2);
                                 [1, MAML_MAX_HIDDEN_LAYERS]. Since 1.3. */
  int32_t hidden_sizes[8];  /**< MLP: units of hidden layers 0..L-1, each in [1, 65536]; entries
                                 from L on must be 0 ({40, 40, 0, ...}: the MAML paper's
                                 sinusoid network). Since 1.3. */
  int32_t activation;       /**< MAML_ACTIVATION_* after every conv stage or hidden layer
                                 (MAML_ACTIVATION_LEAKY_RELU). Since 1.3. */
  int32_t task_kind;        /**< MAML_TASK_* (MAML_TASK_CLASSIFICATION). Since 1.3. */
  int32_t n_outputs;        /**< regression: real-valued outputs per example, M (1);
                                 [1, 100000]. Classification uses n_way. Since 1.3. */
  int32_t batch_norm;       /**< 1: batch norm after every conv stage or hidden layer (per step
                                 with per_step_bn); 0: none, as the MAML paper's sinusoid MLP (1).
                                 Without it per_step_bn and bn_stats have no effect. Since 1.3. */
  int32_t reserved3;        /**< must be 0 (explicit padding a later version may use) */
  /* ---- the 1.3 struct ends here (208 bytes) ---- */
};

/** Fills *cfg with the defaults above and sets cfg->struct_size to the size of the struct the
 *  calling program was compiled with: the header maps this name to
 *  maml_config_init_sized(cfg, sizeof(maml_config)). NULL is ignored. Since 1.0.
 *  (The exported function of the same name, which programs built against the 1.0 header call,
 *  writes exactly the 1.0 struct: 136 bytes.) */
MAML_API void maml_config_init(maml_config* cfg);
#define maml_config_init(cfg) ((void)maml_config_init_sized((cfg), sizeof(maml_config)))

/** Fills the first struct_size bytes of *cfg with the defaults (fields this library does not know
 *  are zeroed) and sets cfg->struct_size. For bindings that mirror the struct. Errors:
 *  MAML_E_INVALID_ARGUMENT if cfg is NULL or struct_size is smaller than the 1.0 struct.
 *  Since 1.0. */
MAML_API maml_status maml_config_init_sized(maml_config* cfg, uint32_t struct_size);

/** A meta-batch of tasks, all in host memory, read during the call only. Each task has
 *  support_size labelled support examples (used to adapt) and query_size query examples (used to
 *  measure the adapted model). Arrays are laid out task after task, E floats per example (E =
 *  C * H * W for the conv backbone, input_features for the MLP):
 *    support_x: num_tasks * support_size * E floats; support_y: num_tasks * support_size
 *    query_x:   num_tasks * query_size   * E floats; query_y:   num_tasks * query_size
 *  A regression model (task_kind MAML_TASK_REGRESSION) takes float targets instead of labels:
 *  support_t and query_t (num_tasks * size * n_outputs floats, finite), with support_y and
 *  query_y NULL; a classifier refuses targets. Since 1.3 the struct carries the two target
 *  pointers (appended: a 1.0 caller's 48-byte struct has none and stays a classifier's). */
struct maml_tasks {
  uint32_t struct_size; /**< sizeof(maml_tasks) */
  int32_t num_tasks;    /**< B */
  int32_t support_size; /**< examples per task in the support set (N*K) */
  int32_t query_size;   /**< examples per task in the query set (N*Q) */
  const float* support_x;
  const int32_t* support_y;
  const float* query_x;
  const int32_t* query_y;
  /* ---- the 1.0 struct ends here (48 bytes) ---- */
  const float* support_t; /**< regression targets of the support set, or NULL. Since 1.3. */
  const float* query_t;   /**< regression targets of the query set, or NULL. Since 1.3. */
};

/** What a training or evaluation call measured. The caller sets struct_size (at least 8, to
 *  receive the loss); the library fills the rest, writing only the first struct_size bytes and
 *  leaving struct_size as the caller set it. */
struct maml_metrics {
  uint32_t struct_size; /**< sizeof(maml_metrics), set by the caller */
  float loss;           /**< meta-loss: mean over tasks of the (MSL-weighted) query loss */
  float accuracy;       /**< query accuracy after the last inner step, mean over tasks */
  float meta_lr;        /**< the Adam learning rate this step used */
  int32_t second_order; /**< 1 if this step used second-order meta-gradients */
  int32_t reserved0;    /**< 0 */
  int64_t step;         /**< meta-train steps completed by the model after this call */
  int64_t epoch;        /**< the epoch this step belonged to (step-1) / iters_per_epoch */
};

/** Creates a freshly initialised model (Xavier-uniform weights, zero biases, gamma 1, beta 0,
 *  every inner rate = inner_lr) on the configured device. *out receives the handle, NULL on error.
 *  Errors: MAML_E_INVALID_ARGUMENT (NULL, a field out of range, an image too small for the
 *  stages), MAML_E_OUT_OF_MEMORY (a model larger than the documented limits, or memory ran out),
 *  MAML_E_DEVICE (CUDA requested but unavailable). Since 1.0. */
MAML_API maml_status maml_create(const maml_config* cfg, maml_model** out);

/** One meta-train step on a meta-batch: adapts every task (inner loop), computes the mean task
 *  loss on the query sets (MSL-weighted while MSL is on), and takes one Adam step on the
 *  meta-parameters with the cosine-annealed learning rate. metrics may be NULL.
 *  All or nothing: if the loss, a gradient or the update is not finite, or anything else fails,
 *  the step is rejected and the model (parameters, Adam moments, step counter, BN statistics) is
 *  unchanged. Threading: exclusive use of the model. Errors: MAML_E_INVALID_ARGUMENT (NULL,
 *  sizes, labels), MAML_E_NUMERICAL, MAML_E_OUT_OF_MEMORY. Since 1.0. */
MAML_API maml_status maml_meta_train_step(maml_model* model, const maml_tasks* batch,
                                          maml_metrics* metrics);

/** Adapts every task of the batch with eval_inner_steps steps and measures query loss and
 *  accuracy (after the last step), without changing the model. metrics must not be NULL: it is
 *  the result. Threading: may run from many threads at once, like maml_adapt. Errors as
 *  maml_meta_train_step. Since 1.0. */
MAML_API maml_status maml_evaluate(const maml_model* model, const maml_tasks* batch,
                                   maml_metrics* metrics);

/** Copies the model's config into *out (out->struct_size must be set). device_type and
 *  device_index are as requested (maybe MAML_DEVICE_AUTO); maml_get_device tells the device in
 *  use. Since 1.0. */
MAML_API maml_status maml_get_config(const maml_model* model, maml_config* out);

/** The number of meta-train steps taken so far. Since 1.0. */
MAML_API maml_status maml_get_step(const maml_model* model, int64_t* out);

/** The device tensors live on: *device_type is MAML_DEVICE_CPU or MAML_DEVICE_CUDA (either
 *  pointer may be NULL). Since 1.0. */
MAML_API maml_status maml_get_device(const maml_model* model, int32_t* device_type,
                                     int32_t* device_index);

/** The number of learnable meta-parameters (weights, biases, BN rows, inner rates). Since 1.0. */
MAML_API maml_status maml_num_parameters(const maml_model* model, int64_t* out);

/* ============================================================================================ */
/* 4. Files                                                                                      */
/* ============================================================================================ */

/* maml_save_ex/maml_save_buffer_ex flags */
#define MAML_SAVE_DEFAULT 0        /**< everything: also Adam moments and step, to resume */
#define MAML_SAVE_INFERENCE_ONLY 1 /**< only what adapt and predict need: what products ship */

/** Writes the model to path in the libmamlpp file format (safetensors layout, see
 *  docs/FILE_FORMAT.md), including what resuming training needs. The write is atomic: a temporary
 *  file in the same directory is written, synced and renamed over path, so on any failure the
 *  previous file at path is untouched. Errors: MAML_E_INVALID_ARGUMENT, MAML_E_IO. Since 1.0. */
MAML_API maml_status maml_save(const maml_model* model, const char* path);

/** maml_save with MAML_SAVE_* flags. Since 1.0. */
MAML_API maml_status maml_save_ex(const maml_model* model, const char* path, int32_t flags);

/** Serialises the model into memory the library allocates: *data (release it with
 *  maml_buffer_free) and *size. Byte-for-byte what maml_save writes. Since 1.0. */
MAML_API maml_status maml_save_buffer(const maml_model* model, void** data, size_t* size);

/** maml_save_buffer with MAML_SAVE_* flags. Since 1.0. */
MAML_API maml_status maml_save_buffer_ex(const maml_model* model, int32_t flags, void** data,
                                         size_t* size);

/** Frees memory returned by maml_save_buffer*, maml_get_metadata and maml_list_metadata. NULL
 *  is a no-op. Since 1.0. */
MAML_API void maml_buffer_free(void* data);

/* User metadata: text a host attaches to a model and that travels inside its file (the
 * safetensors header's "__metadata__"; docs/FILE_FORMAT.md section 4.1): what the model expects
 * of its inputs, its class names, a description. maml_save* writes a model's entries and
 * maml_load* restores them; a file written without any has none. The `mamlpp` command stores
 * the preprocessing its images went through under "mamlpp.preprocessing" (docs/CLI.md), which
 * any host may read or write too.
 *   - A key is 1 to 128 bytes of ASCII letters, digits and . _ - : /  The library's own keys
 *     (format, format_version, library_version, config, step, has_optimizer, dtype) and every key
 *     beginning with "libmamlpp." are reserved and refused.
 *   - A value is NUL-terminated UTF-8 text of at most 65536 bytes (the terminator not counted)
 *     without control characters other than tab, line feed and carriage return.
 *   - A model holds at most 256 entries of 262144 bytes of keys and values together, so that
 *     saving never fails for its metadata. */

/** Sets the metadata entry `key` to a copy of `value`, replacing any previous value; a NULL value
 *  removes the entry (removing a key the model does not hold is not an error). The change is in
 *  the model only until it is saved. Threading: it changes the model, so it needs exclusive
 *  access, like maml_meta_train_step. Errors (and then the metadata is unchanged):
 *  MAML_E_INVALID_ARGUMENT (model or key NULL, a key or value breaking the rules above, or the
 *  entry would pass the count or size limit; the message says which), MAML_E_OUT_OF_MEMORY.
 *  Since 1.1. */
MAML_API maml_status maml_set_metadata(maml_model* model, const char* key, const char* value);

/** Copies the value of the metadata entry `key` into memory the library allocates: *value
 *  receives a NUL-terminated string that the caller releases with maml_buffer_free. A key the
 *  model does not hold is not an error: MAML_OK with *value = NULL (so "absent" and "empty"
 *  differ: an empty value is ""). Threading: as any const-model call. Errors (and then
 *  *value = NULL): MAML_E_INVALID_ARGUMENT (model, key or value NULL, or a key that breaks the
 *  rules above, which no model can hold, e.g. a reserved one), MAML_E_OUT_OF_MEMORY. Since 1.1. */
MAML_API maml_status maml_get_metadata(const maml_model* model, const char* key, char** value);

/** The keys of the model's metadata entries, sorted by byte value, each followed by a NUL byte,
 *  in one block the library allocates: *keys receives it (release it with maml_buffer_free) and
 *  *size its length in bytes, terminators included ("author\0notes\0" is 13). A model without
 *  metadata gives *keys = NULL and *size = 0. Threading: as any const-model call. Errors (and
 *  then *keys = NULL, *size = 0): MAML_E_INVALID_ARGUMENT (a NULL argument),
 *  MAML_E_OUT_OF_MEMORY. Since 1.1. */
MAML_API maml_status maml_list_metadata(const maml_model* model, char** keys, size_t* size);

/* ============================================================================================ */
/* 5. Diagnostics: the LSLR table, devices, memory                                               */
/* ============================================================================================ */

/** The shape of the inner learning-rate table: *num_tensors adapted tensors (weights and biases of
 *  every conv and the linear head; with adapt_last_layers = k only those of the last k layers) by
 *  *num_steps inner steps. Either pointer may be NULL. Since 1.0. */
MAML_API maml_status maml_inner_lr_shape(const maml_model* model, int32_t* num_tensors,
                                         int32_t* num_steps);

/** Copies the learned inner rates into rates, row-major [tensor][step]; count must equal
 *  num_tensors * num_steps. Without LSLR every entry is the fixed inner_lr. Since 1.0. */
MAML_API maml_status maml_get_inner_lrs(const maml_model* model, float* rates, int64_t count);

/** The stable name of the adapted tensor of row `index` of the table (e.g.
 *  "backbone.stage0.conv.weight", "backbone.head.bias"). *name is owned by the model and valid
 *  while it lives. Since 1.0. */
MAML_API maml_status maml_inner_lr_name(const maml_model* model, int32_t index,
                                        const char** name);

/** How many CUDA devices LibTorch sees (0 on CPU-only builds or machines). Since 1.0. */
MAML_API int32_t maml_cuda_device_count(void);

/** Chooses between reproducible and fastest GPU arithmetic for every CUDA model of the process.
 *  A CUDA model runs cuDNN with autotuning; with deterministic != 0 (the default) autotuning
 *  picks only deterministic algorithms, so a seed reproduces a run on the GPU as on the CPU and
 *  training resumed from a file equals training never stopped; 0 allows cuDNN's faster
 *  nondeterministic algorithms. Process-wide, as LibTorch's switches are; takes effect at once.
 *  Threading: any thread, but set it before starting work: a change while another thread computes
 *  on the GPU applies to that work's remaining calls. No effect on CPU models. Never fails.
 *  Since 1.1. */
MAML_API void maml_set_cuda_deterministic(int32_t deterministic);

/** EXPERIMENTAL (rests on LibTorch's caching allocator, whose C++ API is not stable; the counters
 *  may change meaning between LibTorch versions). GPU memory held by live tensors on CUDA device
 *  device_index, as LibTorch's caching allocator counts it: *current_bytes now, and *peak_bytes,
 *  the most since the process started or since the last reset. Process-wide: every model, learner
 *  and anything else in the process that uses LibTorch counts; the allocator's cached free blocks
 *  and the CUDA context do not. A non-zero reset_peak starts a new peak window at the current
 *  level after reading, so that a caller can measure the peak of one piece of work. Either output
 *  may be NULL. Threading: any thread; a reset affects every thread's later reads.
 *  Errors: MAML_E_INVALID_ARGUMENT (device_index < 0), MAML_E_DEVICE (no such GPU, which includes
 *  every CPU-only build), MAML_E_UNSUPPORTED (a CUDA LibTorch whose allocator statistics this build
 *  could not compile against). Since 1.0. */
MAML_API maml_status maml_cuda_memory(int32_t device_index, int32_t reset_peak,
                                      int64_t* current_bytes, int64_t* peak_bytes);

/* ============================================================================================ */
/* 6. Several processes: distributed meta-training (c10d, launched by torchrun)                 */
/* ============================================================================================ */

/* Data-parallel meta-training on PyTorch's own distributed runtime, c10d: N processes (ranks),
 * on one machine or several, each adapt their share of every meta-batch, and each step pools
 * their contributions so that the result is the step one process would take on the whole batch.
 *
 *     maml_group* group = NULL;
 *     CHECK(maml_group_join_env(0, &group));     // RANK, WORLD_SIZE, MASTER_ADDR, ... from torchrun
 *     CHECK(maml_create(&cfg, &model));           // the same config on every rank (or maml_load)
 *     CHECK(maml_group_attach(model, group));     // every rank now holds rank 0's model
 *     for (...) CHECK(maml_meta_train_step(model, &my_share_of_the_batch, &metrics));
 *     maml_free(model);
 *     maml_group_free(group);
 *
 *  - What a step computes. Rank r passes its own tasks (B_r of them; the ranks' shares together are
 *    the meta-batch). The meta-gradients are summed over ranks weighted by task count and divided by
 *    the total, B = sum of B_r, so the meta-loss is the mean over all B tasks; per-step BN running
 *    statistics are pooled the same way; the metrics are global (the loss and accuracy over all B
 *    tasks). Every rank applies the same Adam step, so the models stay identical. In float64 the
 *    result equals one process's step over the B tasks to rounding (tested to 1e-10 relative).
 *  - Collective calls: maml_group_join*, maml_group_attach, maml_group_allreduce_sum, and
 *    maml_meta_train_step on an attached model. Every rank must make the same collective calls in
 *    the same order; each returns when all ranks have made it. Everything else (maml_evaluate,
 *    maml_adapt, maml_predict, maml_save*, ...) stays local: a rank may call it or not.
 *  - Failures are collective too. If a rank's step fails (its input is refused, it runs out of
 *    memory, its gradient is not finite) every rank refuses that step, with the failing rank's
 *    error there and MAML_E_DISTRIBUTED elsewhere, and no model changes. If a rank dies or stops
 *    responding, the others fail with MAML_E_DISTRIBUTED within the timeout; the group is then
 *    broken (every later collective refuses at once) and the models are unchanged since the last
 *    step that succeeded. A program calling a collective with a NULL or invalid handle does not
 *    take part, and the others wait for it until the timeout.
 *  - Signals. A dead peer's sockets raise SIGPIPE when written to, and its default action would
 *    end the host. Group calls block SIGPIPE in the calling thread while they work (and in the
 *    threads the backends start meanwhile), and discard one raised meanwhile; the host's own
 *    SIGPIPE handling is untouched.
 *  - Devices and backends. CPU models reduce over Gloo, CUDA models over NCCL (in a build whose
 *    LibTorch has it); each rank usually creates its CUDA model on device maml_group_local_rank().
 *    Gloo's network interface is GLOO_SOCKET_IFNAME when set, as in PyTorch.
 *  - Threading. A group may be used from one thread at a time per process; collective calls from
 *    several threads are serialised in the order they arrive, which must match across ranks.
 *  - Every rank needs at least one task per step: a world larger than the meta-batch is an error
 *    (the rank without tasks refuses, so every rank does), not idle ranks.
 *
 * Calls return MAML_E_UNSUPPORTED in a build whose LibTorch lacks c10d's Gloo backend. */

/** A membership in a process group: opaque, released with maml_group_free. */
typedef struct maml_group maml_group;

/** The timeout, in seconds, that a timeout of 0 means: rendezvous and every collective. */
#define MAML_GROUP_DEFAULT_TIMEOUT 300.0

/** Joins the process group that torchrun describes in the environment: RANK, WORLD_SIZE,
 *  MASTER_ADDR, MASTER_PORT, and LOCAL_RANK (optional, default RANK). Collective: returns once all
 *  WORLD_SIZE ranks have joined. timeout_seconds bounds the rendezvous and every later collective
 *  (0: MAML_GROUP_DEFAULT_TIMEOUT; otherwise 0.1 to 86400). *out receives the handle, NULL on
 *  error. Errors: MAML_E_INVALID_ARGUMENT (a variable missing or not a number, a value out of
 *  range; the message names it), MAML_E_DISTRIBUTED (the rendezvous failed or timed out),
 *  MAML_E_UNSUPPORTED (no c10d Gloo in this build). Since 1.1. */
MAML_API maml_status maml_group_join_env(double timeout_seconds, maml_group** out);

/** Joins a process group described explicitly: rank 0 serves the rendezvous (c10d's TCPStore) at
 *  master_addr:master_port and every rank connects to it. rank in [0, world_size), world_size >= 1,
 *  local_rank this rank's index on its machine (-1: rank). Otherwise as maml_group_join_env.
 *  Since 1.1. */
MAML_API maml_status maml_group_join(const char* master_addr, int32_t master_port, int32_t rank,
                                     int32_t world_size, int32_t local_rank,
                                     double timeout_seconds, maml_group** out);

/** This process's rank, the number of ranks, and its index on its machine (either output may
 *  be NULL). Local. Since 1.1. */
MAML_API maml_status maml_group_rank(const maml_group* group, int32_t* rank, int32_t* world_size,
                                     int32_t* local_rank);

/** Attaches the model to the group, on every rank (collective). First checks that the ranks
 *  agree: the same library version, device type, dtype and config (all fields but device_index,
 *  num_threads and task_batching, which only say where and how a rank computes); and every rank
 *  whose model has trained (step > 0, e.g. loaded from a checkpoint) must hold exactly rank 0's
 *  model: the same step counter and tensors (parameters, LSLR, BN rows, Adam moments), so ranks
 *  that loaded different files are refused. If anything differs, every rank refuses with
 *  MAML_E_DISTRIBUTED and a message naming the first rank and field that differ, and nothing is
 *  attached. Then rank 0's complete state (tensors and step counter) is broadcast, so the ranks
 *  start bitwise identical; a rank at step 0 (a fresh maml_create, e.g. on a machine without the
 *  checkpoint) thereby receives rank 0's model. From then on
 *  maml_meta_train_step on this model is collective. A model is attached to at most one group;
 *  attaching again replaces it. The model keeps the group alive while attached. Threading:
 *  exclusive use of the model. Since 1.1. */
MAML_API maml_status maml_group_attach(maml_model* model, maml_group* group);

/** Makes the model local again (maml_meta_train_step stops being collective). Local; a model
 *  that is not attached is not an error. Threading: exclusive use of the model. Since 1.1. */
MAML_API maml_status maml_group_detach(maml_model* model);

/** Sums values[0..count) over every rank, in place, in double precision (collective; for a host's
 *  own figures, e.g. validation results each rank computed on its share). count >= 1, at most
 *  2^24, the same on every rank; NaN and infinities are summed as they are. Errors:
 *  MAML_E_INVALID_ARGUMENT (NULL, count out of range: this rank then does not take part),
 *  MAML_E_DISTRIBUTED. Since 1.1. */
MAML_API maml_status maml_group_allreduce_sum(maml_group* group, double* values, int64_t count);

/** Leaves the group: releases this handle (models still attached keep the membership until they
 *  are detached or freed). Local and immediate: it waits for no other rank, so a rank that fails
 *  on its own (a bad path, a refused config) exits at once, and the other ranks' next collective
 *  fails with MAML_E_DISTRIBUTED. NULL is a no-op. Since 1.1. */
MAML_API void maml_group_free(maml_group* group);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MAMLPP_MAMLPP_H */
