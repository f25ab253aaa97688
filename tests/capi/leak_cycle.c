/*
 * One full life cycle through the C ABI, for leak checkers (valgrind memcheck, LeakSanitizer):
 * create, train, evaluate, adapt (one task and many), predict, the LSLR queries, save and load
 * (file and buffer, full and inference-only), a selection of failing calls (every error path
 * throws and catches a C++ exception inside the library), then free everything.
 *
 *   leak_cycle [--leak] [DIR]
 *
 * --leak deliberately does not free one learner, to prove that the leak check catches a real
 * leak (the test that runs it expects failure). DIR is where the model file goes (default: the
 * current directory). Exits 0 when every call behaved as expected.
 */
#include <mamlpp/mamlpp.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_failures;

#define EXPECT(call, expected)                                                                    \
  do {                                                                                            \
    const maml_status s_ = (call);                                                                \
    if (s_ != (expected)) {                                                                       \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s: %s\n", __FILE__, __LINE__, #call,     \
              maml_status_string(s_), maml_status_string(expected), maml_last_error());          \
      ++g_failures;                                                                               \
    }                                                                                             \
  } while (0)
#define OK(call) EXPECT(call, MAML_OK)

enum { WAY = 3, SIDE = 8, PIXELS = SIDE * SIDE, TASKS = 2, SHOTS = 1, QUERIES = 2 };

static void fill(float* x, int32_t* y, int n, unsigned seed) {
  int i, p;
  for (i = 0; i < n; ++i) {
    y[i] = i % WAY;
    for (p = 0; p < PIXELS; ++p) {
      seed = seed * 1103515245u + 12345u;
      x[i * PIXELS + p] = (float)((seed >> 16) & 0xFF) / 255.0f + (float)y[i] * 0.1f;
    }
  }
}

int main(int argc, char** argv) {
  int leak = 0;
  const char* dir = ".";
  char path[1024];
  maml_config cfg;
  maml_model *model = NULL, *loaded = NULL, *lean = NULL, *bad = NULL;
  maml_learner *learner = NULL, *learners[TASKS] = {NULL, NULL}, *none = NULL;
  float sx[TASKS * WAY * SHOTS * PIXELS], qx[TASKS * WAY * QUERIES * PIXELS];
  int32_t sy[TASKS * WAY * SHOTS], qy[TASKS * WAY * QUERIES];
  float logits[WAY * QUERIES * WAY], rates[64];
  int32_t labels[WAY * QUERIES], tensors = 0, steps = 0, i;
  maml_tasks batch;
  maml_metrics metrics;
  void* buf = NULL;
  size_t size = 0;
  const char* name = NULL;
  int64_t step = 0;

  for (i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--leak") == 0)
      leak = 1;
    else
      dir = argv[i];
  }
  snprintf(path, sizeof path, "%s/leak_cycle.maml", dir);

  fill(sx, sy, TASKS * WAY * SHOTS, 1u);
  fill(qx, qy, TASKS * WAY * QUERIES, 2u);
  memset(&batch, 0, sizeof batch);
  batch.struct_size = sizeof batch;
  batch.num_tasks = TASKS;
  batch.support_size = WAY * SHOTS;
  batch.query_size = WAY * QUERIES;
  batch.support_x = sx;
  batch.support_y = sy;
  batch.query_x = qx;
  batch.query_y = qy;
  memset(&metrics, 0, sizeof metrics);
  metrics.struct_size = sizeof metrics;

  maml_config_init(&cfg);
  cfg.n_way = WAY;
  cfg.image_height = cfg.image_width = SIDE;
  cfg.num_stages = 2;
  cfg.num_filters = 4;
  cfg.inner_steps = cfg.eval_inner_steps = 1;
  cfg.first_order_epochs = 0;
  cfg.device_type = MAML_DEVICE_CPU;
  cfg.num_threads = 2; /* exercise the library's worker threads too */

  OK(maml_create(&cfg, &model));
  if (model == NULL) return 1;
  OK(maml_meta_train_step(model, &batch, &metrics));
  OK(maml_meta_train_step(model, &batch, NULL));
  OK(maml_evaluate(model, &batch, &metrics));
  OK(maml_get_step(model, &step));
  OK(maml_inner_lr_shape(model, &tensors, &steps));
  if (tensors * steps <= 64) OK(maml_get_inner_lrs(model, rates, tensors * steps));
  OK(maml_inner_lr_name(model, 0, &name));

  OK(maml_adapt(model, sx, sy, WAY * SHOTS, &learner));
  OK(maml_predict(learner, qx, WAY * QUERIES, logits, labels));
  OK(maml_adapt_tasks(model, &batch, learners));
  for (i = 0; i < TASKS; ++i) OK(maml_predict(learners[i], qx, 1, logits, labels));
  maml_learner_free(learners[0]);
  maml_learner_free(learners[1]);

  OK(maml_save(model, path));
  OK(maml_load(path, MAML_DEVICE_CPU, 0, &loaded));
  OK(maml_save_buffer(model, &buf, &size));
  OK(maml_load_buffer(buf, size, MAML_DEVICE_CPU, 0, &bad));
  maml_free(bad);
  bad = NULL;
  maml_buffer_free(buf);
  buf = NULL;
  OK(maml_save_buffer_ex(loaded, MAML_SAVE_INFERENCE_ONLY, &buf, &size));
  OK(maml_load_buffer(buf, size, MAML_DEVICE_AUTO, 0, &lean));

  /* Error paths: each throws inside the library and must free what it allocated. */
  EXPECT(maml_load_buffer(buf, size / 2, MAML_DEVICE_CPU, 0, &bad), MAML_E_FORMAT);
  EXPECT(maml_load("/nonexistent/dir/x.maml", MAML_DEVICE_CPU, 0, &bad), MAML_E_IO);
  EXPECT(maml_load(path, MAML_DEVICE_CUDA, 0, &bad),
         maml_cuda_device_count() > 0 ? MAML_OK : MAML_E_DEVICE);
  maml_free(bad);
  bad = NULL;
  sy[0] = WAY;
  EXPECT(maml_meta_train_step(model, &batch, &metrics), MAML_E_INVALID_ARGUMENT);
  EXPECT(maml_adapt_tasks(model, &batch, learners), MAML_E_INVALID_ARGUMENT); /* NULLs them */
  sy[0] = 0;
  qx[0] = NAN;
  EXPECT(maml_predict(learner, qx, 1, logits, labels), MAML_E_NUMERICAL);
  qx[0] = 0.0f;
  cfg.num_stages = 0;
  EXPECT(maml_create(&cfg, &bad), MAML_E_INVALID_ARGUMENT);
  cfg.num_stages = 2;
  OK(maml_create(&cfg, &bad));
  {
    /* Finite inputs that overflow float32 in the first convolution. */
    static float saved[sizeof sx / sizeof sx[0]];
    size_t i;
    memcpy(saved, sx, sizeof sx);
    for (i = 0; i < sizeof sx / sizeof sx[0]; ++i) sx[i] = 3e38f;
    EXPECT(maml_meta_train_step(bad, &batch, NULL), MAML_E_NUMERICAL);
    EXPECT(maml_adapt(bad, sx, sy, WAY * SHOTS, &none), MAML_E_NUMERICAL);
    memcpy(sx, saved, sizeof sx);
  }
  maml_free(bad);
  EXPECT(maml_adapt(NULL, sx, sy, WAY * SHOTS, &none), MAML_E_INVALID_ARGUMENT);

  /* The learner outlives its model. */
  maml_free(model);
  OK(maml_predict(learner, qx, WAY * QUERIES, logits, labels));

  maml_buffer_free(buf);
  maml_free(lean);
  maml_free(loaded);
  maml_learner_free(learners[0]); /* NULL after the failed maml_adapt_tasks */
  maml_learner_free(learners[1]);
  maml_learner_free(none);        /* NULL after the failed maml_adapt */
  if (!leak) maml_learner_free(learner);
  remove(path);

  if (g_failures) {
    fprintf(stderr, "leak_cycle: %d call(s) misbehaved\n", g_failures);
    return 1;
  }
  printf("leak_cycle: ok%s\n", leak ? " (one learner deliberately leaked)" : "");
  return 0;
}
