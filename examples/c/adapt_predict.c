/*
 * adapt_predict.c — what a host program does with a meta-initialisation someone trained earlier:
 * load it, adapt it to a few labelled examples of a new task, and classify new images.
 *
 *   adapt_predict MODEL.maml TASK.bin
 *
 * MODEL.maml is a file written by maml_save (e.g. by the quickstart example, or the test fixture
 * tests/fixtures: example_model.maml). TASK.bin holds the labelled support images and the query
 * images to classify, in the format of tests/fixtures/README.md:
 *
 *   "MAMLTASK", int32 version (1), n_way, C, H, W, n_support, n_query, then
 *   float32 support[n_support*C*H*W], int32 support_labels[n_support],
 *   float32 query[n_query*C*H*W], int32 query_labels[n_query]        (all little-endian)
 *
 * Prints, for every query image, the predicted label and the class probabilities (the softmax of
 * the logits), and the accuracy against the file's query labels. Exit status 0 on success.
 */
#include <mamlpp/mamlpp.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The task file, loaded. */
typedef struct task_file {
  int32_t n_way, channels, height, width, n_support, n_query;
  float* support_x;
  int32_t* support_y;
  float* query_x;
  int32_t* query_y;
} task_file;

static int read_i32(FILE* f, int32_t* out) {
  unsigned char b[4];
  if (fread(b, 1, 4, f) != 4) return 0;
  *out = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
  return 1;
}

static int read_f32s(FILE* f, float* out, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i) {
    int32_t bits;
    uint32_t u;
    if (!read_i32(f, &bits)) return 0;
    u = (uint32_t)bits;
    memcpy(&out[i], &u, sizeof u);
  }
  return 1;
}

static int read_i32s(FILE* f, int32_t* out, size_t n) {
  size_t i;
  for (i = 0; i < n; ++i)
    if (!read_i32(f, &out[i])) return 0;
  return 1;
}

/* Reads and checks a task file; on failure prints why and returns 0. */
static int load_task_file(const char* path, task_file* t) {
  FILE* f = fopen(path, "rb");
  char magic[8];
  int32_t version = 0;
  size_t image, ns, nq;
  int ok;
  memset(t, 0, sizeof *t);
  if (f == NULL) {
    perror(path);
    return 0;
  }
  ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, "MAMLTASK", 8) == 0 && read_i32(f, &version) &&
       version == 1 && read_i32(f, &t->n_way) && read_i32(f, &t->channels) &&
       read_i32(f, &t->height) && read_i32(f, &t->width) && read_i32(f, &t->n_support) &&
       read_i32(f, &t->n_query);
  /* Sizes a real task could have; anything else is a corrupt or foreign file. */
  ok = ok && t->n_way >= 2 && t->n_way <= 1000 && t->channels >= 1 && t->channels <= 16 &&
       t->height >= 1 && t->height <= 1024 && t->width >= 1 && t->width <= 1024 &&
       t->n_support >= 1 && t->n_support <= 100000 && t->n_query >= 1 && t->n_query <= 100000;
  if (!ok) {
    fprintf(stderr, "%s: not a version 1 task file\n", path);
    fclose(f);
    return 0;
  }
  image = (size_t)t->channels * (size_t)t->height * (size_t)t->width;
  ns = (size_t)t->n_support;
  nq = (size_t)t->n_query;
  t->support_x = (float*)malloc(sizeof(float) * ns * image);
  t->support_y = (int32_t*)malloc(sizeof(int32_t) * ns);
  t->query_x = (float*)malloc(sizeof(float) * nq * image);
  t->query_y = (int32_t*)malloc(sizeof(int32_t) * nq);
  ok = t->support_x && t->support_y && t->query_x && t->query_y &&
       read_f32s(f, t->support_x, ns * image) && read_i32s(f, t->support_y, ns) &&
       read_f32s(f, t->query_x, nq * image) && read_i32s(f, t->query_y, nq);
  if (!ok) fprintf(stderr, "%s: truncated (or out of memory)\n", path);
  if (fclose(f) != 0) ok = 0;
  return ok;
}

static void free_task_file(task_file* t) {
  free(t->support_x);
  free(t->support_y);
  free(t->query_x);
  free(t->query_y);
  memset(t, 0, sizeof *t);
}

/* Probabilities from logits, computed stably (subtract the largest logit first). */
static void softmax(const float* logits, int n, double* out) {
  double max = logits[0], sum = 0.0;
  int i;
  for (i = 1; i < n; ++i)
    if (logits[i] > max) max = logits[i];
  for (i = 0; i < n; ++i) sum += out[i] = exp((double)logits[i] - max);
  for (i = 0; i < n; ++i) out[i] /= sum;
}

#define CHECK(call)                                                                              \
  do {                                                                                           \
    const maml_status status_ = (call);                                                          \
    if (status_ != MAML_OK) {                                                                    \
      fprintf(stderr, "adapt_predict: %s failed: %s: %s\n", #call, maml_status_string(status_), \
              maml_last_error());                                                                \
      goto done;                                                                                 \
    }                                                                                            \
  } while (0)

int main(int argc, char** argv) {
  task_file task;
  maml_model* model = NULL;
  maml_learner* learner = NULL;
  maml_config cfg;
  float* logits = NULL;
  int32_t* labels = NULL;
  double* probabilities = NULL;
  int32_t device = 0, n_way = 0;
  int exit_code = 1, i, c, correct = 0;

  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL.maml TASK.bin\n", argv[0]);
    return 2;
  }
  if (maml_abi_version() != MAMLPP_ABI_VERSION) {
    fprintf(stderr, "adapt_predict: built for libmamlpp ABI %d, found ABI %d\n", MAMLPP_ABI_VERSION,
            (int)maml_abi_version());
    return 1;
  }
  if (!load_task_file(argv[2], &task)) {
    free_task_file(&task);
    return 1;
  }

  /* Load the meta-initialisation: on a GPU if there is one, else on the CPU. */
  CHECK(maml_load(argv[1], MAML_DEVICE_AUTO, 0, &model));
  CHECK(maml_get_device(model, &device, NULL));
  cfg.struct_size = sizeof cfg;
  CHECK(maml_get_config(model, &cfg));
  printf("libmamlpp %s: loaded %s (%d-way, %dx%dx%d images, %d adaptation steps) on the %s\n",
         maml_version_string(), argv[1], (int)cfg.n_way, (int)cfg.image_channels,
         (int)cfg.image_height, (int)cfg.image_width, (int)cfg.eval_inner_steps,
         device == MAML_DEVICE_CUDA ? "GPU" : "CPU");
  if (cfg.n_way != task.n_way || cfg.image_channels != task.channels ||
      cfg.image_height != task.height || cfg.image_width != task.width) {
    fprintf(stderr, "adapt_predict: %s holds %d-way %dx%dx%d tasks, the model wants %d-way %dx%dx%d\n",
            argv[2], (int)task.n_way, (int)task.channels, (int)task.height, (int)task.width,
            (int)cfg.n_way, (int)cfg.image_channels, (int)cfg.image_height, (int)cfg.image_width);
    goto done;
  }

  /* Adapt to the labelled support examples. The model itself is not changed: one model can
   * serve many tasks, even from many threads at once. */
  CHECK(maml_adapt(model, task.support_x, task.support_y, task.n_support, &learner));
  CHECK(maml_learner_n_way(learner, &n_way));
  printf("adapted to %d labelled examples\n", (int)task.n_support);

  /* Classify the queries. */
  logits = (float*)malloc(sizeof(float) * (size_t)task.n_query * (size_t)n_way);
  labels = (int32_t*)malloc(sizeof(int32_t) * (size_t)task.n_query);
  probabilities = (double*)malloc(sizeof(double) * (size_t)n_way);
  if (logits == NULL || labels == NULL || probabilities == NULL) {
    fprintf(stderr, "adapt_predict: out of memory\n");
    goto done;
  }
  CHECK(maml_predict(learner, task.query_x, task.n_query, logits, labels));

  printf("query  label  truth  probabilities\n");
  for (i = 0; i < task.n_query; ++i) {
    softmax(&logits[(size_t)i * (size_t)n_way], n_way, probabilities);
    printf("%5d  %5d  %5d ", i, (int)labels[i], (int)task.query_y[i]);
    for (c = 0; c < n_way; ++c) printf(" %.3f", probabilities[c]);
    printf("%s\n", labels[i] == task.query_y[i] ? "" : "  (wrong)");
    correct += labels[i] == task.query_y[i];
  }
  printf("accuracy: %d/%d = %.1f%%\n", correct, (int)task.n_query, 100.0 * correct / task.n_query);
  exit_code = 0;

done:
  free(probabilities);
  free(labels);
  free(logits);
  maml_learner_free(learner);
  maml_free(model);
  free_task_file(&task);
  return exit_code;
}
