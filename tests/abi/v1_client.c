/*
 * A program built against the libmamlpp 1.0 header (tests/abi/v1_0), run against this library.
 * Every struct it passes is followed by guard bytes: the library must not read or write past the
 * 1.0 sizes, and the fields the program does not know must take their defaults.
 * Exit status 0 when everything holds; the first failure is printed.
 */
#include <mamlpp/mamlpp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 0xA7
#define GUARD_BYTES 64

#define REQUIRE(cond)                                                                          \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      fprintf(stderr, "v1_client: %s:%d: %s failed (last error: %s)\n", __FILE__, __LINE__,  \
              #cond, maml_last_error());                                                       \
      exit(1);                                                                                 \
    }                                                                                          \
  } while (0)
#define OK(call) REQUIRE((call) == MAML_OK)

static int guard_intact(const unsigned char* g) {
  int i;
  for (i = 0; i < GUARD_BYTES; ++i)
    if (g[i] != GUARD) return 0;
  return 1;
}

/* Each struct with guard bytes right after it (the 1.0 structs need no padding before them). */
typedef struct { maml_config c; unsigned char guard[GUARD_BYTES]; } guarded_config;
typedef struct { maml_tasks t; unsigned char guard[GUARD_BYTES]; } guarded_tasks;
typedef struct { maml_metrics m; unsigned char guard[GUARD_BYTES]; } guarded_metrics;

enum { WAY = 3, SIDE = 12, PIXELS = SIDE * SIDE, TASKS = 2 };

static void fill(float* x, int32_t* y, int n, unsigned seed) {
  int i, p;
  for (i = 0; i < n; ++i) {
    y[i] = i % WAY;
    for (p = 0; p < PIXELS; ++p) {
      seed = seed * 1103515245u + 12345u;
      x[i * PIXELS + p] = (float)((p % (WAY + 2)) == y[i]) + (float)(seed >> 16 & 0xFF) / 2048.0f;
    }
  }
}

static int same_config(const maml_config* a, const maml_config* b) {
  /* Everything after struct_size, as the 1.0 program knows it. */
  return memcmp((const char*)a + 4, (const char*)b + 4, sizeof(maml_config) - 4) == 0;
}

int main(void) {
  guarded_config gc, got;
  guarded_tasks gt;
  guarded_metrics gm;
  maml_model *model = NULL, *loaded = NULL;
  maml_learner *learner = NULL, *learners[TASKS] = {NULL, NULL};
  static float sx[TASKS * WAY * PIXELS], qx[TASKS * WAY * PIXELS];
  static int32_t sy[TASKS * WAY], qy[TASKS * WAY], labels[WAY];
  float logits[WAY * WAY];
  void* buf = NULL;
  size_t size = 0;
  int32_t n_way = 0;
  int i;

  REQUIRE(sizeof(maml_config) == 136 && sizeof(maml_tasks) == 48 && sizeof(maml_metrics) == 40);
  REQUIRE(maml_abi_version() == MAMLPP_ABI_VERSION);
  REQUIRE(maml_version_number() >= MAMLPP_VERSION_NUMBER);

  /* maml_config_init: the 1.0 function writes the 1.0 struct and nothing after it. */
  memset(&gc, GUARD, sizeof gc);
  maml_config_init(&gc.c);
  REQUIRE(gc.c.struct_size == sizeof(maml_config));
  REQUIRE(guard_intact(gc.guard));
  REQUIRE(gc.c.n_way == 5 && gc.c.num_filters == 64 && gc.c.bn_stats == MAML_BN_SUPPORT);
  memset(&got, GUARD, sizeof got);
  OK(maml_config_init_sized(&got.c, (uint32_t)sizeof(maml_config)));
  REQUIRE(guard_intact(got.guard) && same_config(&got.c, &gc.c));

  gc.c.n_way = WAY;
  gc.c.image_height = SIDE;
  gc.c.image_width = SIDE;
  gc.c.num_stages = 2;
  gc.c.num_filters = 4;
  gc.c.inner_steps = 2;
  gc.c.eval_inner_steps = 2;
  gc.c.first_order_epochs = 0;
  gc.c.device_type = MAML_DEVICE_CPU;
  gc.c.num_threads = 1;
  gc.c.grad_clip = 0.5f; /* the 1.1 grad_clip_lslr stays at its default: the network only */
  gc.c.seed = 11;
  OK(maml_create(&gc.c, &model));
  REQUIRE(guard_intact(gc.guard));

  memset(&got, GUARD, sizeof got);
  got.c.struct_size = sizeof(maml_config);
  OK(maml_get_config(model, &got.c));
  REQUIRE(guard_intact(got.guard));
  REQUIRE(got.c.struct_size == sizeof(maml_config) && same_config(&got.c, &gc.c));

  /* maml_tasks and maml_metrics at their 1.0 sizes, guard bytes after them (non-zero: a library
   * that read them would take them for fields of a newer struct and refuse the call). */
  fill(sx, sy, TASKS * WAY, 1);
  fill(qx, qy, TASKS * WAY, 2);
  memset(&gt, GUARD, sizeof gt);
  gt.t.struct_size = sizeof(maml_tasks);
  gt.t.num_tasks = TASKS;
  gt.t.support_size = WAY;
  gt.t.query_size = WAY;
  gt.t.support_x = sx;
  gt.t.support_y = sy;
  gt.t.query_x = qx;
  gt.t.query_y = qy;
  for (i = 0; i < 3; ++i) {
    memset(&gm, GUARD, sizeof gm);
    gm.m.struct_size = sizeof(maml_metrics);
    OK(maml_meta_train_step(model, &gt.t, &gm.m));
    REQUIRE(guard_intact(gm.guard) && guard_intact(gt.guard));
    REQUIRE(gm.m.struct_size == sizeof(maml_metrics) && gm.m.step == i + 1);
    REQUIRE(gm.m.loss > 0.0f && gm.m.accuracy >= 0.0f && gm.m.accuracy <= 1.0f);
  }
  memset(&gm, GUARD, sizeof gm);
  gm.m.struct_size = sizeof(maml_metrics);
  OK(maml_evaluate(model, &gt.t, &gm.m));
  REQUIRE(guard_intact(gm.guard) && gm.m.step == 3);

  /* Adapt and predict; a learner's config. */
  OK(maml_adapt(model, sx, sy, WAY, &learner));
  OK(maml_predict(learner, qx, WAY, logits, labels));
  for (i = 0; i < WAY; ++i) REQUIRE(labels[i] >= 0 && labels[i] < WAY);
  OK(maml_learner_n_way(learner, &n_way));
  REQUIRE(n_way == WAY);
  memset(&got, GUARD, sizeof got);
  got.c.struct_size = sizeof(maml_config);
  OK(maml_learner_get_config(learner, &got.c));
  REQUIRE(guard_intact(got.guard) && same_config(&got.c, &gc.c));
  OK(maml_adapt_tasks(model, &gt.t, learners));
  REQUIRE(guard_intact(gt.guard) && learners[0] != NULL && learners[1] != NULL);

  /* Files: a round trip keeps the config, and the loaded model trains on. */
  OK(maml_save_buffer(model, &buf, &size));
  OK(maml_load_buffer(buf, size, MAML_DEVICE_CPU, 0, &loaded));
  memset(&got, GUARD, sizeof got);
  got.c.struct_size = sizeof(maml_config);
  OK(maml_get_config(loaded, &got.c));
  REQUIRE(guard_intact(got.guard) && same_config(&got.c, &gc.c));
  memset(&gm, GUARD, sizeof gm);
  gm.m.struct_size = sizeof(maml_metrics);
  OK(maml_meta_train_step(loaded, &gt.t, &gm.m));
  REQUIRE(guard_intact(gm.guard) && gm.m.step == 4);

  /* A struct_size below 1.0's is still refused, naming it. */
  got.c.struct_size = 100;
  REQUIRE(maml_get_config(model, &got.c) == MAML_E_INVALID_ARGUMENT);
  REQUIRE(strstr(maml_last_error(), "struct_size") != NULL);

  maml_buffer_free(buf);
  maml_learner_free(learners[0]);
  maml_learner_free(learners[1]);
  maml_learner_free(learner);
  maml_free(loaded);
  maml_free(model);
  printf("v1_client: a 1.0 program works against libmamlpp %s\n", maml_version_string());
  return 0;
}
