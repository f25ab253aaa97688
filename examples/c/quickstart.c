/*
 * quickstart.c — libmamlpp in one C file.
 *
 * Meta-trains a small MAML++ model on synthetic 5-way 1-shot tasks, measures how well it adapts
 * to classes it has never seen (before and after meta-training), saves the meta-initialisation,
 * loads it back, adapts it to 5 labelled examples of a new task and predicts.
 *
 *   quickstart [--steps N] [--out FILE] [--quiet]
 *
 *   --steps N   meta-training steps (default 300: about a minute and a half on two CPU cores;
 *               1 min 25 s measured with `time quickstart`)
 *   --out FILE  where to save the model (default: quickstart.maml in the current directory)
 *
 * The tasks come from a generator in this file, so nothing needs downloading: each class is a
 * "glyph" of three random pen strokes on a 28x28 canvas, and each example of a class is its
 * glyph shifted by up to two pixels, with slightly wobbling strokes and pixel noise. Training
 * classes and evaluation classes are disjoint, as with Omniglot's background/evaluation split.
 * Everything is deterministic.
 *
 * Exit status: 0 if every call succeeded and the reloaded model behaves exactly like the saved
 * one; 1 otherwise.
 */
#include <mamlpp/mamlpp.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glyphs.h" /* the synthetic tasks: stand-ins for your data */

/* Every libmamlpp call is checked: on failure, say what failed and why, and give up. */
#define CHECK(call)                                                                              \
  do {                                                                                           \
    const maml_status status_ = (call);                                                          \
    if (status_ != MAML_OK) {                                                                    \
      fprintf(stderr, "quickstart: %s failed: %s: %s\n", #call, maml_status_string(status_),    \
              maml_last_error());                                                                \
      goto fail;                                                                                 \
    }                                                                                            \
  } while (0)

enum {
  WAYS = 5,          /* classes per task */
  SHOTS = 1,         /* labelled examples per class: the support set */
  QUERIES = 5,       /* examples per class to measure the adapted model on: the query set */
  SIDE = GLYPH_SIDE, /* images are 1 x 28 x 28 */
  PIXELS = SIDE * SIDE,
  META_BATCH = 4,    /* tasks per meta-training step */
  EVAL_TASKS = 100   /* held-out tasks for the before/after measurement */
};

/* Training classes are ids [0, 4000); evaluation classes start at 1,000,000. */
#define TRAIN_CLASSES 4000u
#define EVAL_CLASS_BASE 1000000u

/* ============================================================================================ */
/* Meta-batches of synthetic tasks (glyphs.h draws the images)                                  */
/* ============================================================================================ */

/* A meta-batch and its storage. */
typedef struct task_batch {
  float support_x[META_BATCH * WAYS * SHOTS * PIXELS];
  int32_t support_y[META_BATCH * WAYS * SHOTS];
  float query_x[META_BATCH * WAYS * QUERIES * PIXELS];
  int32_t query_y[META_BATCH * WAYS * QUERIES];
  maml_tasks tasks;
} task_batch;

/* Fills `count` tasks (count <= META_BATCH): WAYS distinct classes each, from the training pool
 * or from the evaluation pool. Labels 0..WAYS-1 are assigned to the classes in drawn order. */
static void make_tasks(task_batch* b, int count, int evaluation, rng* r) {
  int t, c, k;
  for (t = 0; t < count; ++t) {
    uint32_t classes[WAYS];
    for (c = 0; c < WAYS; ++c) {
      int unique;
      do {
        const uint32_t draw = (uint32_t)(rng_next(r) % TRAIN_CLASSES);
        classes[c] = evaluation ? EVAL_CLASS_BASE + draw : draw;
        unique = 1;
        for (k = 0; k < c; ++k) unique &= classes[k] != classes[c];
      } while (!unique);
    }
    for (k = 0; k < WAYS * SHOTS; ++k) {
      const int i = t * WAYS * SHOTS + k;
      b->support_y[i] = k % WAYS;
      draw_example(classes[k % WAYS], r, &b->support_x[(size_t)i * PIXELS]);
    }
    for (k = 0; k < WAYS * QUERIES; ++k) {
      const int i = t * WAYS * QUERIES + k;
      b->query_y[i] = k % WAYS;
      draw_example(classes[k % WAYS], r, &b->query_x[(size_t)i * PIXELS]);
    }
  }
  memset(&b->tasks, 0, sizeof b->tasks);
  b->tasks.struct_size = sizeof b->tasks;
  b->tasks.num_tasks = count;
  b->tasks.support_size = WAYS * SHOTS;
  b->tasks.query_size = WAYS * QUERIES;
  b->tasks.support_x = b->support_x;
  b->tasks.support_y = b->support_y;
  b->tasks.query_x = b->query_x;
  b->tasks.query_y = b->query_y;
}

/* Mean post-adaptation query accuracy over EVAL_TASKS held-out tasks (always the same ones). */
static maml_status held_out_accuracy(maml_model* model, task_batch* b, double* accuracy) {
  rng r;
  double sum = 0.0;
  int done = 0;
  r.state = 0xE7A1ull;
  while (done < EVAL_TASKS) {
    maml_metrics m;
    maml_status s;
    make_tasks(b, META_BATCH, 1, &r);
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    s = maml_evaluate(model, &b->tasks, &m);
    if (s != MAML_OK) return s;
    sum += m.accuracy * META_BATCH;
    done += META_BATCH;
  }
  *accuracy = sum / done;
  return MAML_OK;
}

/* ============================================================================================ */

static int parse_args(int argc, char** argv, long* steps, const char** out, int* quiet) {
  int i;
  for (i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
      char* end = NULL;
      *steps = strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || *steps < 0 || *steps > 1000000) return 0;
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
  long steps = 300, step;
  const char* out_path = "quickstart.maml";
  int quiet = 0, exit_code = 1, i;
  maml_config cfg;
  maml_model *model = NULL, *reloaded = NULL;
  maml_learner *learner = NULL, *learner_saved = NULL;
  task_batch* batch = NULL;
  double before = 0.0, after = 0.0, loss_sum = 0.0, acc_sum = 0.0;
  int window = 0;
  rng train_rng;
  float logits[WAYS * QUERIES * WAYS], logits_saved[WAYS * QUERIES * WAYS];
  int32_t labels[WAYS * QUERIES];
  int32_t tensors = 0, lr_steps = 0;
  int64_t parameters = 0;
  int correct = 0;

  if (!parse_args(argc, argv, &steps, &out_path, &quiet)) {
    fprintf(stderr, "usage: %s [--steps N] [--out FILE] [--quiet]\n", argv[0]);
    return 2;
  }
  /* A program built against one libmamlpp must not run against an incompatible one. */
  if (maml_abi_version() != MAMLPP_ABI_VERSION) {
    fprintf(stderr, "quickstart: built for libmamlpp ABI %d, found ABI %d\n", MAMLPP_ABI_VERSION,
            (int)maml_abi_version());
    return 1;
  }
  printf("libmamlpp %s: MAML++ quick start, %d-way %d-shot, %dx%d synthetic glyphs\n",
         maml_version_string(), WAYS, SHOTS, SIDE, SIDE);

  batch = (task_batch*)malloc(sizeof *batch);
  if (batch == NULL) {
    fprintf(stderr, "quickstart: out of memory\n");
    return 1;
  }

  /* 1. A model. maml_config_init gives the MAML++ paper's Omniglot settings; this example makes
   *    the network smaller so that it trains in about a minute and a half on two CPU cores. */
  maml_config_init(&cfg);
  cfg.n_way = WAYS;
  cfg.image_channels = 1;
  cfg.image_height = SIDE;
  cfg.image_width = SIDE;
  cfg.num_stages = 3;        /* 28 -> 14 -> 7 -> 3 */
  cfg.num_filters = 16;
  cfg.inner_steps = 2;       /* adaptation steps during meta-training */
  cfg.eval_inner_steps = 2;  /* ...and when adapting to a new task */
  cfg.meta_lr = 0.002f;
  cfg.meta_lr_min = 0.0002f;
  cfg.iters_per_epoch = 50;  /* the schedules (cosine meta-LR, MSL, DA) count in epochs */
  cfg.epochs = steps >= 100 ? (int32_t)(steps / 50) : 2;
  cfg.msl_epochs = cfg.epochs / 3;
  cfg.first_order_epochs = cfg.epochs / 3;
  /* Batch norm at prediction time normalises with the statistics of the support set the learner
   * was adapted to (the default), so each prediction is independent of what else is in the call. */
  cfg.bn_stats = MAML_BN_SUPPORT;
  cfg.device_type = MAML_DEVICE_AUTO; /* a GPU if LibTorch sees one, else the CPU */
  cfg.seed = 42;
  CHECK(maml_create(&cfg, &model));
  CHECK(maml_num_parameters(model, &parameters));
  printf("model: %d conv stages x %d filters, %lld meta-parameters\n", (int)cfg.num_stages,
         (int)cfg.num_filters, (long long)parameters);

  /* 2. How well does adaptation work from the random initialisation? */
  CHECK(held_out_accuracy(model, batch, &before));
  printf("held-out %d-way %d-shot accuracy before meta-training: %5.1f%%\n", WAYS, SHOTS,
         100.0 * before);

  /* 3. Meta-train: each step adapts to META_BATCH tasks and improves the initialisation. */
  train_rng.state = 2024;
  for (step = 1; step <= steps; ++step) {
    maml_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    make_tasks(batch, META_BATCH, 0, &train_rng);
    CHECK(maml_meta_train_step(model, &batch->tasks, &m));
    loss_sum += m.loss;
    acc_sum += m.accuracy;
    ++window;
    if (!quiet && (step % 25 == 0 || step == steps)) {
      printf("step %4ld  epoch %2lld  loss %.3f  accuracy %5.1f%%  meta-lr %.5f%s\n", step,
             (long long)m.epoch, loss_sum / window, 100.0 * acc_sum / window, m.meta_lr,
             m.second_order ? "" : "  (first order)");
      loss_sum = acc_sum = 0.0;
      window = 0;
    }
  }

  /* 4. And after? */
  CHECK(held_out_accuracy(model, batch, &after));
  printf("held-out %d-way %d-shot accuracy after %ld steps:  %5.1f%% (was %.1f%%)\n", WAYS, SHOTS,
         steps, 100.0 * after, 100.0 * before);

  /* What the model learned about learning: the per-step inner learning rates (LSLR). */
  CHECK(maml_inner_lr_shape(model, &tensors, &lr_steps));
  if (tensors > 0 && lr_steps > 0) {
    float* rates = (float*)malloc(sizeof(float) * (size_t)tensors * (size_t)lr_steps);
    const char* name = NULL;
    if (rates == NULL) goto fail;
    if (maml_get_inner_lrs(model, rates, (int64_t)tensors * lr_steps) != MAML_OK ||
        maml_inner_lr_name(model, tensors - 2, &name) != MAML_OK) {
      fprintf(stderr, "quickstart: reading the inner rates failed: %s\n", maml_last_error());
      free(rates);
      goto fail;
    }
    printf("learned inner learning rates of %s:", name);
    for (i = 0; i < lr_steps; ++i) printf(" %.4f", rates[(tensors - 2) * lr_steps + i]);
    printf(" (started at %.4f)\n", cfg.inner_lr);
    free(rates);
  }

  /* 5. Save the meta-initialisation and load it back, as a host program would. */
  CHECK(maml_save(model, out_path));
  CHECK(maml_load(out_path, MAML_DEVICE_AUTO, 0, &reloaded));
  printf("saved %s and loaded it back\n", out_path);

  /* 6. A brand-new task: 5 labelled examples of 5 unseen classes; adapt and predict. */
  {
    rng r;
    r.state = 777;
    make_tasks(batch, 1, 1, &r);
  }
  CHECK(maml_adapt(reloaded, batch->support_x, batch->support_y, WAYS * SHOTS, &learner));
  CHECK(maml_predict(learner, batch->query_x, WAYS * QUERIES, logits, labels));
  for (i = 0; i < WAYS * QUERIES; ++i) correct += labels[i] == batch->query_y[i];
  printf("new task: adapted to %d examples, predicted %d/%d query images correctly\n", WAYS * SHOTS,
         correct, WAYS * QUERIES);
  printf("  predicted:");
  for (i = 0; i < WAYS * QUERIES; ++i) printf(" %d", (int)labels[i]);
  printf("\n  true:     ");
  for (i = 0; i < WAYS * QUERIES; ++i) printf(" %d", (int)batch->query_y[i]);
  printf("\n");

  /* The reloaded model must behave exactly like the one we saved. */
  CHECK(maml_adapt(model, batch->support_x, batch->support_y, WAYS * SHOTS, &learner_saved));
  CHECK(maml_predict(learner_saved, batch->query_x, WAYS * QUERIES, logits_saved, NULL));
  if (memcmp(logits, logits_saved, sizeof logits) != 0) {
    fprintf(stderr, "quickstart: the reloaded model predicts differently from the saved one\n");
    goto fail;
  }

  printf("summary: accuracy on unseen classes %.1f%% -> %.1f%% after %ld meta-training steps; "
         "save/load round trip exact\n",
         100.0 * before, 100.0 * after, steps);
  exit_code = 0;

fail:
  maml_learner_free(learner_saved);
  maml_learner_free(learner);
  maml_free(reloaded);
  maml_free(model);
  free(batch);
  return exit_code;
}
