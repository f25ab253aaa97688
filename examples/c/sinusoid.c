/*
 * sinusoid.c — few-shot regression with libmamlpp: the MAML paper's sinusoid problem.
 *
 * Each task is a sinusoid y = A sin(x + phase) with amplitude A drawn from U[0.1, 5], phase from
 * U[0, pi], and inputs x from U[-5, 5]. The model is the paper's network: a multi-layer
 * perceptron 1 -> 40 -> 40 -> 1 with ReLU and no batch norm (the MLP backbone, since 1.3),
 * learning real values (task_kind MAML_TASK_REGRESSION: mean squared error, float targets).
 *
 *   sinusoid [--steps N] [--out FILE] [--seed S] [--quiet]
 *
 *   --steps N   meta-training steps (default 1000: about 8 seconds on two CPU cores, measured;
 *               the paper trains 70000), each on a meta-batch of 25 sinusoids with K = 10
 *               support and 10 query points
 *   --out FILE  where to save the model (default: sinusoid.maml in the current directory)
 *   --seed S    seed of the tasks and of the model's initialisation (default 1)
 *
 * After meta-training it draws a new sinusoid, adapts the model to 10 of its points
 * (maml_adapt_regression) and prints the mean squared error on 100 other points: after adapting
 * the meta-trained model, after adapting a fresh model of the same configuration (not
 * meta-trained), and, for scale, of predicting 0 everywhere. Then it saves the model, loads it
 * back, adapts the reloaded model to the same 10 points and checks that its 100 predictions are
 * identical. Everything is deterministic.
 *
 * Exit status: 0 if every call succeeded and the reloaded model predicts identically; 1 otherwise.
 */
#include <mamlpp/mamlpp.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every libmamlpp call is checked: on failure, say what failed and why, and give up. */
#define CHECK(call)                                                                              \
  do {                                                                                           \
    const maml_status status_ = (call);                                                          \
    if (status_ != MAML_OK) {                                                                    \
      fprintf(stderr, "sinusoid: %s failed: %s: %s\n", #call, maml_status_string(status_),      \
              maml_last_error());                                                                \
      goto fail;                                                                                 \
    }                                                                                            \
  } while (0)

enum {
  META_BATCH = 25,  /* sinusoids per meta-training step */
  K = 10,           /* support points per sinusoid: the few shots */
  QUERIES = 10,     /* query points per sinusoid in meta-training */
  TEST_POINTS = 100 /* points of the new sinusoid the adapted model is measured on */
};

#define PI 3.14159265358979323846

/* ============================================================================================ */
/* Sinusoid tasks                                                                               */
/* ============================================================================================ */

/* A small deterministic generator (xorshift64*), the same on every platform. */
typedef struct rng {
  uint64_t state;
} rng;

static rng rng_seeded(uint64_t seed) {
  rng r;
  r.state = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
  if (r.state == 0) r.state = 1;
  return r;
}

/* Uniform in [lo, hi). */
static double rng_uniform(rng* r, double lo, double hi) {
  uint64_t x = r->state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->state = x;
  x *= 0x2545F4914F6CDD1Dull;
  return lo + (hi - lo) * (double)(x >> 11) * (1.0 / 9007199254740992.0); /* 53 bits */
}

typedef struct sinusoid {
  double amplitude, phase;
} sinusoid;

static sinusoid sinusoid_draw(rng* r) {
  sinusoid s;
  s.amplitude = rng_uniform(r, 0.1, 5.0);
  s.phase = rng_uniform(r, 0.0, PI);
  return s;
}

/* n points of the sinusoid: x in U[-5, 5] and y = A sin(x + phase). */
static void sinusoid_sample(const sinusoid* s, rng* r, float* x, float* y, int n) {
  int i;
  for (i = 0; i < n; ++i) {
    x[i] = (float)rng_uniform(r, -5.0, 5.0);
    y[i] = (float)(s->amplitude * sin((double)x[i] + s->phase));
  }
}

/* A meta-batch: META_BATCH sinusoids, each with K support and QUERIES query points, laid out
 * task after task (one input feature and one target per point). */
typedef struct task_batch {
  float support_x[META_BATCH * K], support_t[META_BATCH * K];
  float query_x[META_BATCH * QUERIES], query_t[META_BATCH * QUERIES];
  maml_tasks tasks;
} task_batch;

static void make_meta_batch(task_batch* b, rng* r) {
  int t;
  for (t = 0; t < META_BATCH; ++t) {
    const sinusoid s = sinusoid_draw(r);
    sinusoid_sample(&s, r, b->support_x + t * K, b->support_t + t * K, K);
    sinusoid_sample(&s, r, b->query_x + t * QUERIES, b->query_t + t * QUERIES, QUERIES);
  }
  memset(&b->tasks, 0, sizeof b->tasks);
  b->tasks.struct_size = sizeof(maml_tasks);
  b->tasks.num_tasks = META_BATCH;
  b->tasks.support_size = K;
  b->tasks.query_size = QUERIES;
  b->tasks.support_x = b->support_x;
  b->tasks.query_x = b->query_x;
  b->tasks.support_y = NULL; /* regression: float targets instead of labels */
  b->tasks.query_y = NULL;
  b->tasks.support_t = b->support_t;
  b->tasks.query_t = b->query_t;
}

/* ============================================================================================ */
/* The model                                                                                    */
/* ============================================================================================ */

/* The MAML paper's sinusoid network as a libmamlpp config. */
static void configure(maml_config* cfg, long steps, uint64_t seed) {
  maml_config_init(cfg);
  cfg->backbone = MAML_BACKBONE_MLP;
  cfg->input_features = 1;
  cfg->hidden_layers = 2;
  cfg->hidden_sizes[0] = 40;
  cfg->hidden_sizes[1] = 40;
  cfg->activation = MAML_ACTIVATION_RELU;
  cfg->batch_norm = 0; /* the paper's network has none */
  cfg->task_kind = MAML_TASK_REGRESSION;
  cfg->n_outputs = 1;
  cfg->inner_steps = 1;      /* one step in meta-training ... */
  cfg->eval_inner_steps = 5; /* ... five when adapting */
  cfg->inner_lr = 0.05f;     /* meta-learned from here on (LSLR, the default) */
  cfg->multi_step_loss = 0;
  cfg->first_order_epochs = 0;
  cfg->meta_lr = 0.003f;
  cfg->epochs = 1; /* the cosine schedule spans the run */
  cfg->iters_per_epoch = steps > 0 ? (int32_t)steps : 1;
  cfg->task_batching = MAML_TASKS_BATCHED; /* all 25 tasks at once: fastest for this MLP */
  cfg->device_type = MAML_DEVICE_CPU;
  cfg->seed = seed;
}

static double mse(const float* predicted, const float* target, int n) {
  double sum = 0.0;
  int i;
  for (i = 0; i < n; ++i) {
    const double d = (double)predicted[i] - (double)target[i];
    sum += d * d;
  }
  return sum / n;
}

static int parse_args(int argc, char** argv, long* steps, const char** out, long* seed,
                      int* quiet) {
  int i;
  for (i = 1; i < argc; ++i) {
    char* end = NULL;
    if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
      *steps = strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || *steps < 0 || *steps > 10000000) return 0;
    } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      *seed = strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || *seed < 0) return 0;
    } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      *out = argv[++i];
    } else if (strcmp(argv[i], "--quiet") == 0) {
      *quiet = 1;
    } else {
      return 0;
    }
  }
  return 1;
}

int main(int argc, char** argv) {
  long steps = 1000, seed = 1, step;
  const char* out_path = "sinusoid.maml";
  int quiet = 0, exit_code = 1, width = 0;
  maml_config cfg;
  maml_model *model = NULL, *fresh = NULL, *reloaded = NULL;
  maml_learner *learner = NULL, *untrained = NULL, *learner2 = NULL;
  maml_metrics metrics;
  static task_batch batch; /* static: a few kilobytes that need not live on the stack */
  float x[K], t[K], test_x[TEST_POINTS], test_t[TEST_POINTS], zeros[TEST_POINTS];
  float predicted[TEST_POINTS], fresh_predicted[TEST_POINTS], again[TEST_POINTS];
  int64_t num_parameters = 0;
  rng r, test_r;
  sinusoid task;

  memset(&metrics, 0, sizeof metrics);
  metrics.struct_size = sizeof(maml_metrics);
  if (!parse_args(argc, argv, &steps, &out_path, &seed, &quiet)) {
    fprintf(stderr, "usage: %s [--steps N] [--out FILE] [--seed S] [--quiet]\n", argv[0]);
    return 2;
  }
  if (maml_abi_version() != MAMLPP_ABI_VERSION) {
    fprintf(stderr, "sinusoid: libmamlpp ABI %d, built for %d\n", (int)maml_abi_version(),
            MAMLPP_ABI_VERSION);
    return 1;
  }
  printf("libmamlpp %s\n", maml_version_string());
  r = rng_seeded((uint64_t)seed);

  /* Two models of the same config and seed: one to meta-train, one to compare with. */
  configure(&cfg, steps, (uint64_t)seed);
  CHECK(maml_create(&cfg, &model));
  CHECK(maml_create(&cfg, &fresh));
  CHECK(maml_num_parameters(model, &num_parameters));
  printf("model: MLP 1 -> 40 -> 40 -> 1 (ReLU), %lld parameters; meta-training %ld steps of %d "
         "sinusoids (K = %d)\n",
         (long long)num_parameters, steps, META_BATCH, K);

  for (step = 1; step <= steps; ++step) {
    make_meta_batch(&batch, &r);
    CHECK(maml_meta_train_step(model, &batch.tasks, &metrics));
    if (!quiet && (step % (steps / 10 > 0 ? steps / 10 : 1) == 0 || step == steps))
      printf("  step %5ld  query MSE %.3f\n", step, metrics.loss);
  }

  /* A new sinusoid, from a generator of its own so that it is the same whatever --steps is:
   * adapt to K of its points, measure on TEST_POINTS others. */
  test_r = rng_seeded((uint64_t)seed + 1000u);
  task = sinusoid_draw(&test_r);
  sinusoid_sample(&task, &test_r, x, t, K);
  sinusoid_sample(&task, &test_r, test_x, test_t, TEST_POINTS);
  printf("new sinusoid: amplitude %.3f, phase %.3f; adapting to %d points, measuring on %d "
         "others\n",
         task.amplitude, task.phase, K, TEST_POINTS);
  CHECK(maml_adapt_regression(model, x, t, K, &learner));
  CHECK(maml_learner_n_way(learner, &width)); /* the row width: n_outputs = 1 */
  if (width != 1) {
    fprintf(stderr, "sinusoid: the learner predicts %d values per point, expected 1\n", width);
    goto fail;
  }
  /* A regression learner writes its values into the logits argument; labels must be NULL. */
  CHECK(maml_predict(learner, test_x, TEST_POINTS, predicted, NULL));
  CHECK(maml_adapt_regression(fresh, x, t, K, &untrained));
  CHECK(maml_predict(untrained, test_x, TEST_POINTS, fresh_predicted, NULL));
  memset(zeros, 0, sizeof zeros);
  printf("  MSE of predicting 0 everywhere:             %8.4f\n", mse(zeros, test_t, TEST_POINTS));
  printf("  MSE after adapting a fresh model:           %8.4f\n",
         mse(fresh_predicted, test_t, TEST_POINTS));
  printf("  MSE after adapting the meta-trained model:  %8.4f\n",
         mse(predicted, test_t, TEST_POINTS));

  /* Save, load back, adapt the reloaded model to the same points: identical predictions. */
  CHECK(maml_save(model, out_path));
  CHECK(maml_load(out_path, MAML_DEVICE_CPU, 0, &reloaded));
  CHECK(maml_adapt_regression(reloaded, x, t, K, &learner2));
  CHECK(maml_predict(learner2, test_x, TEST_POINTS, again, NULL));
  if (memcmp(again, predicted, sizeof predicted) != 0) {
    fprintf(stderr, "sinusoid: FAIL: the reloaded model predicts differently\n");
    goto fail;
  }
  printf("saved %s and loaded it back: save/load round trip exact (%d identical predictions)\n",
         out_path, TEST_POINTS);
  exit_code = 0;

fail:
  maml_learner_free(learner2);
  maml_learner_free(untrained);
  maml_learner_free(learner);
  maml_free(reloaded);
  maml_free(fresh);
  maml_free(model);
  return exit_code;
}
