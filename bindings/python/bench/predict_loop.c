/*
 * predict_loop — the C baseline for bindings/python/bench_overhead.py: loads a model, adapts it to
 * n_way synthetic support images (one per class), then times maml_predict on ONE example in a loop
 * with caller-allocated outputs. Prints one JSON line: {"us_per_call": ..., "iterations": ...}.
 *
 * Usage: predict_loop MODEL.maml [iterations] [repeats]
 * (As a library, -DPREDICT_LOOP_NO_MAIN -shared: mamlpp_bench_predict_loop only.)
 * The support/query images are the same deterministic values the Python script uses
 * (x[i] = ((i * 7919) % 1000) / 1000.0f), so all three measurements do identical work.
 */
#define _POSIX_C_SOURCE 199309L
#include <mamlpp/mamlpp.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define CHECK(call)                                                                   \
  do {                                                                                \
    maml_status s_ = (call);                                                          \
    if (s_ != MAML_OK) {                                                              \
      fprintf(stderr, "%s: %s: %s\n", #call, maml_status_string(s_), maml_last_error()); \
      return 1;                                                                       \
    }                                                                                 \
  } while (0)

/* Times `iterations` calls of maml_predict on one example; returns microseconds per call. Also
 * exported when compiled with -DPREDICT_LOOP_NO_MAIN -shared, so the Python script can run the same
 * C loop inside its own process (ctypes calls it once per measurement). */
double mamlpp_bench_predict_loop(const maml_learner* learner, const float* x, long iterations,
                                 int32_t n_way, int32_t* label_out);
double mamlpp_bench_predict_loop(const maml_learner* learner, const float* x, long iterations,
                                 int32_t n_way, int32_t* label_out) {
  float logits[256];
  int32_t label = -1;
  long i;
  double t0;
  if (n_way > 256 || iterations <= 0) return -1.0;
  t0 = now_s();
  for (i = 0; i < iterations; ++i) {
    if (maml_predict(learner, x, 1, logits, &label) != MAML_OK) return -1.0;
  }
  if (label_out) *label_out = label;
  return (now_s() - t0) / (double)iterations * 1e6;
}

#ifndef PREDICT_LOOP_NO_MAIN
int main(int argc, char** argv) {
  maml_model* model = NULL;
  maml_learner* learner = NULL;
  maml_config cfg;
  long iterations, repeats, i, r, n;
  int32_t k, *support_y, label;
  float *support_x, *query, *logits;
  double best = 1e30;

  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.maml [iterations] [repeats]\n", argv[0]);
    return 2;
  }
  iterations = argc > 2 ? atol(argv[2]) : 2000;
  repeats = argc > 3 ? atol(argv[3]) : 5;
  if (maml_abi_version() != MAMLPP_ABI_VERSION) {
    fprintf(stderr, "libmamlpp ABI %d, expected %d\n", maml_abi_version(), MAMLPP_ABI_VERSION);
    return 1;
  }
  CHECK(maml_load(argv[1], MAML_DEVICE_CPU, 0, &model));
  cfg.struct_size = sizeof cfg;
  CHECK(maml_get_config(model, &cfg));
  k = cfg.n_way;
  n = (long)cfg.image_channels * cfg.image_height * cfg.image_width;
  support_x = malloc(sizeof(float) * (size_t)(n * k));
  support_y = malloc(sizeof(int32_t) * (size_t)k);
  query = malloc(sizeof(float) * (size_t)n);
  logits = malloc(sizeof(float) * (size_t)k);
  if (!support_x || !support_y || !query || !logits) return 1;
  for (i = 0; i < n * k; ++i) support_x[i] = (float)((i * 7919) % 1000) / 1000.0f;
  for (i = 0; i < k; ++i) support_y[i] = (int32_t)i;
  for (i = 0; i < n; ++i) query[i] = (float)((i * 7919) % 1000) / 1000.0f;
  CHECK(maml_adapt(model, support_x, support_y, k, &learner));

  for (i = 0; i < iterations / 10 + 1; ++i) CHECK(maml_predict(learner, query, 1, logits, &label));
  for (r = 0; r < repeats; ++r) {
    const double dt = mamlpp_bench_predict_loop(learner, query, iterations, k, &label);
    if (dt < 0) {
      fprintf(stderr, "maml_predict failed: %s\n", maml_last_error());
      return 1;
    }
    if (dt < best) best = dt;
  }
  printf("{\"us_per_call\": %.3f, \"iterations\": %ld, \"repeats\": %ld, \"label\": %d}\n", best,
         iterations, repeats, (int)label);
  maml_learner_free(learner);
  maml_free(model);
  free(support_x);
  free(support_y);
  free(query);
  free(logits);
  return 0;
}
#endif /* PREDICT_LOOP_NO_MAIN */
