/* A rank of a distributed meta-training run through the C ABI alone (maml_group_*), driven by
 * tests/dist/test_dist.py. Every rank builds the same global meta-batches (task t is a pure
 * function of t) and trains on its contiguous share; --single trains one process on the whole
 * batch, for comparison. Faults are injected on one rank on request.
 *
 *   dist_worker [--single] --steps S --tasks B [--float64] [--bn running|support] --out PREFIX
 *               [--timeout SECONDS] [--bad-rank R --bad-step K --bad nan|huge|empty]
 *               [--n-way-rank R] [--pretrain-rank R] [--cuda]
 *   dist_worker --bench-allreduce COUNT [--iters N]   (mean time of maml_group_allreduce_sum
 *               over COUNT doubles, after 10 warm-up calls; printed by rank 0)
 *
 * The group comes from the environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Output, one
 * line per event: "ATTACH <status> <message>", "STEP <k> <status> <loss> <message>"; at the end
 * the model is saved to PREFIX.rank<R>.maml. Exit 0 when the run got to the end, 2 when joining
 * failed, 3 when attaching was refused. */
#include <mamlpp/mamlpp.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N_WAY = 5, SHOTS = 1, QUERIES = 2, SIDE = 14 };
#define PIXELS (SIDE * SIDE)

static uint64_t lcg(uint64_t* s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 11;
}

/* Task t: labels 0..N-1 in order, images uniform in [0, 1) from a seed of t, plus a class offset
 * so that there is something to learn. */
static void make_task(int64_t t, float* sx, int32_t* sy, float* qx, int32_t* qy) {
  uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(t + 1) * 0xbf58476d1ce4e5b9ull;
  for (int c = 0; c < N_WAY; ++c) {
    for (int k = 0; k < SHOTS + QUERIES; ++k) {
      float* img = k < SHOTS ? sx + (c * SHOTS + k) * PIXELS : qx + (c * QUERIES + k - SHOTS) * PIXELS;
      for (int p = 0; p < PIXELS; ++p)
        img[p] = (float)(lcg(&s) % 1000) / 1000.0f + (p % N_WAY == c ? 0.5f : 0.0f);
      if (k < SHOTS) sy[c * SHOTS + k] = c;
      else qy[c * QUERIES + k - SHOTS] = c;
    }
  }
}

static const char* arg_value(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

static int has_flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

static void one_line(const char* s, char* out, size_t size) {
  snprintf(out, size, "%s", s);
  for (char* p = out; *p; ++p)
    if (*p == '\n') *p = ' ';
}

int main(int argc, char** argv) {
  const int single = has_flag(argc, argv, "--single");
  const int steps = atoi(arg_value(argc, argv, "--steps", "3"));
  const int tasks = atoi(arg_value(argc, argv, "--tasks", "8"));
  const double timeout = atof(arg_value(argc, argv, "--timeout", "60"));
  const char* out = arg_value(argc, argv, "--out", "model");
  const char* bn = arg_value(argc, argv, "--bn", "support");
  const int bad_rank = atoi(arg_value(argc, argv, "--bad-rank", "-1"));
  const int bad_step = atoi(arg_value(argc, argv, "--bad-step", "-1"));
  const char* bad = arg_value(argc, argv, "--bad", "nan");
  const int n_way_rank = atoi(arg_value(argc, argv, "--n-way-rank", "-1"));
  const int pretrain_rank = atoi(arg_value(argc, argv, "--pretrain-rank", "-1"));
  char msg[2048];

  int32_t rank = 0, world = 1;
  maml_group* group = NULL;
  if (!single) {
    const maml_status s = maml_group_join_env(timeout, &group);
    if (s != MAML_OK) {
      one_line(maml_last_error(), msg, sizeof msg);
      printf("JOIN %s %s\n", maml_status_string(s), msg);
      return 2;
    }
    maml_group_rank(group, &rank, &world, NULL);
  }

  if (group && has_flag(argc, argv, "--bench-allreduce")) {
    const int64_t count = atoll(arg_value(argc, argv, "--bench-allreduce", "57152"));
    const int iters = atoi(arg_value(argc, argv, "--iters", "200"));
    double* v = calloc((size_t)count, sizeof(double));
    struct timespec a, b;
    if (v == NULL) return 4;
    for (int i = 0; i < 10 + iters; ++i) {
      if (i == 10) clock_gettime(CLOCK_MONOTONIC, &a);
      if (maml_group_allreduce_sum(group, v, count) != MAML_OK) {
        printf("ALLREDUCE %s\n", maml_last_error());
        return 4;
      }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (rank == 0)
      printf("allreduce %lld doubles (%.1f KB) over %d ranks: %.1f us per call (mean of %d)\n", (long long)count,
             (double)count * 8 / 1000, (int)world,
             ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / iters, iters);
    free(v);
    maml_group_free(group);
    return 0;
  }

  maml_config cfg;
  maml_config_init(&cfg);
  cfg.n_way = rank == n_way_rank ? N_WAY - 1 : N_WAY;
  cfg.image_height = cfg.image_width = SIDE;
  cfg.num_stages = 2;
  cfg.num_filters = 8;
  cfg.inner_steps = cfg.eval_inner_steps = 2;
  cfg.first_order_epochs = 0; /* second order from the start */
  cfg.iters_per_epoch = 2;
  cfg.epochs = 10;
  cfg.device_type = has_flag(argc, argv, "--cuda") ? MAML_DEVICE_CUDA : MAML_DEVICE_CPU;
  cfg.dtype = has_flag(argc, argv, "--float64") ? MAML_DTYPE_FLOAT64 : MAML_DTYPE_FLOAT32;
  cfg.bn_stats = strcmp(bn, "running") == 0 ? MAML_BN_RUNNING : MAML_BN_SUPPORT;
  cfg.seed = 7;
  maml_model* model = NULL;
  if (maml_create(&cfg, &model) != MAML_OK) {
    printf("CREATE %s\n", maml_last_error());
    return 4;
  }

  const int support = N_WAY * SHOTS, query = N_WAY * QUERIES;
  float* sx = calloc((size_t)tasks * support * PIXELS, sizeof(float));
  float* qx = calloc((size_t)tasks * query * PIXELS, sizeof(float));
  int32_t* sy = calloc((size_t)tasks * support, sizeof(int32_t));
  int32_t* qy = calloc((size_t)tasks * query, sizeof(int32_t));
  if (!sx || !qx || !sy || !qy) return 4;

  /* A rank that trained on its own before attaching holds another model than rank 0. */
  if (rank == pretrain_rank) {
    for (int i = 0; i < tasks; ++i) make_task(1000000 + i, sx + (size_t)i * support * PIXELS, sy + (size_t)i * support,
                                              qx + (size_t)i * query * PIXELS, qy + (size_t)i * query);
    maml_tasks b = {sizeof(maml_tasks), tasks, support, query, sx, sy, qx, qy};
    if (maml_meta_train_step(model, &b, NULL) != MAML_OK) return 4;
  }

  if (group) {
    const maml_status s = maml_group_attach(model, group);
    one_line(maml_last_error(), msg, sizeof msg);
    printf("ATTACH %s %s\n", maml_status_string(s), s == MAML_OK ? "" : msg);
    fflush(stdout);
    if (s != MAML_OK) {
      maml_free(model);
      maml_group_free(group);
      return 3;
    }
  }

  /* This rank's contiguous share of every batch, as the CLI splits it. */
  const int base = tasks / world, extra = tasks % world;
  const int count = base + (rank < extra ? 1 : 0);
  const int first = rank * base + (rank < extra ? rank : extra);
  for (int k = 1; k <= steps; ++k) {
    for (int i = 0; i < count; ++i) {
      const int64_t t = (int64_t)(k - 1) * tasks + first + i;
      make_task(t, sx + (size_t)i * support * PIXELS, sy + (size_t)i * support, qx + (size_t)i * query * PIXELS,
                qy + (size_t)i * query);
    }
    maml_tasks b = {sizeof(maml_tasks), count, support, query, sx, sy, qx, qy};
    if (rank == bad_rank && k == bad_step) {
      if (strcmp(bad, "nan") == 0) sx[3] = NAN;                               /* refused as input */
      else if (strcmp(bad, "huge") == 0) for (int p = 0; p < count * support * PIXELS; ++p) sx[p] *= 1e38f; /* overflows */
      else b.num_tasks = 0;                                                   /* "empty": no task */
    }
    maml_metrics m = {sizeof(maml_metrics)};
    const maml_status s = maml_meta_train_step(model, &b, &m);
    one_line(maml_last_error(), msg, sizeof msg);
    printf("STEP %d %s %.9g %s\n", k, maml_status_string(s), s == MAML_OK ? m.loss : 0.0, s == MAML_OK ? "" : msg);
    fflush(stdout);
    if (s == MAML_E_DISTRIBUTED && strstr(msg, "failed earlier") != NULL) break;
  }

  char path[1024];
  snprintf(path, sizeof path, "%s.rank%d.maml", out, (int)rank);
  if (maml_save(model, path) != MAML_OK) {
    printf("SAVE %s\n", maml_last_error());
    return 4;
  }
  int64_t step = 0;
  maml_get_step(model, &step);
  printf("DONE step %lld\n", (long long)step);
  maml_free(model);
  maml_group_free(group);
  free(sx);
  free(qx);
  free(sy);
  free(qy);
  return 0;
}
