/*
 * Shared helpers for the CMocka tests of the libmamlpp C ABI. C99; uses only the public header.
 *
 * Everything here is static: each test program includes this header once.
 */
#ifndef MAMLPP_TESTS_CAPI_TEST_UTIL_H
#define MAMLPP_TESTS_CAPI_TEST_UTIL_H

#include <mamlpp/mamlpp.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A handle value no call of the library returns: output handles must be overwritten with NULL
 * on every error, so the tests pre-fill them with this. */
#define BOGUS_MODEL ((maml_model*)(uintptr_t)0x1)
#define BOGUS_LEARNER ((maml_learner*)(uintptr_t)0x1)

/* ---------------------------------------------------------------------------------------------
 * Status checks
 * ------------------------------------------------------------------------------------------- */

/* Fails the test, showing maml_last_error(), unless `call` returns `expected`. */
#define assert_status(call, expected)                                                           \
  do {                                                                                          \
    const maml_status got_ = (call);                                                            \
    if (got_ != (expected)) {                                                                   \
      fail_msg("%s returned %s (%d), expected %s; last error: \"%s\"", #call,                  \
               maml_status_string(got_), (int)got_, maml_status_string(expected),              \
               maml_last_error());                                                              \
    }                                                                                           \
  } while (0)

#define assert_ok(call) assert_status(call, MAML_OK)

/* The call must fail with `expected`, leave a non-empty maml_last_error() that contains
 * `needle` (the name of the offending argument or field; NULL to skip that check). */
#define assert_error(call, expected, needle)                                                    \
  do {                                                                                          \
    assert_status(call, expected);                                                              \
    check_last_error_(#call, (needle));                                                         \
  } while (0)

static inline void check_last_error_(const char* call, const char* needle) {
  const char* msg = maml_last_error();
  if (msg == NULL) fail_msg("%s: maml_last_error() returned NULL", call);
  if (msg[0] == '\0') fail_msg("%s failed but maml_last_error() is empty", call);
  if (needle != NULL && strstr(msg, needle) == NULL)
    fail_msg("%s: maml_last_error() \"%s\" does not mention \"%s\"", call, msg, needle);
}

/* maml_last_error() must be "" (after a successful call). */
static inline void assert_no_error(void) {
  const char* msg = maml_last_error();
  assert_non_null(msg);
  if (msg[0] != '\0') fail_msg("maml_last_error() is \"%s\" after a successful call", msg);
}

/* For the part of a test that needs a CUDA GPU: without one, prints "skipped: no GPU ..." (CI has
 * none; scripts/test.sh lists these lines after each suite) and skips the rest of the test.
 * scripts/gpu-check.sh runs them on a GPU. */
#define skip_without_gpu()                                                                      \
  do {                                                                                          \
    if (maml_cuda_device_count() == 0) {                                                        \
      print_message("skipped: no GPU: %s needs a CUDA device\n", __func__);                     \
      skip();                                                                                   \
    }                                                                                           \
  } while (0)

/* ---------------------------------------------------------------------------------------------
 * A small, fast configuration
 * ------------------------------------------------------------------------------------------- */

#define T_WAY 3
#define T_C 1
#define T_H 14
#define T_W 14
#define T_PIXELS (T_C * T_H * T_W)

/* 3-way, 1x14x14 images, 2 stages of 8 filters, 2 inner steps, float32 on the CPU, one worker
 * thread (ctest runs two programs at once on two cores), second order from step 1. */
static inline void small_config(maml_config* c) {
  maml_config_init(c);
  c->n_way = T_WAY;
  c->image_channels = T_C;
  c->image_height = T_H;
  c->image_width = T_W;
  c->num_stages = 2;
  c->num_filters = 8;
  c->inner_steps = 2;
  c->eval_inner_steps = 2;
  c->first_order_epochs = 0;
  c->msl_epochs = 2;
  c->epochs = 10;
  c->iters_per_epoch = 5;
  /* scripts/gpu-check.sh runs the suite on the GPU with MAMLPP_TEST_DEVICE=cuda. */
  c->device_type = getenv("MAMLPP_TEST_DEVICE") && strcmp(getenv("MAMLPP_TEST_DEVICE"), "cuda") == 0
                       ? MAML_DEVICE_CUDA
                       : MAML_DEVICE_CPU;
  c->device_index = 0;
  c->num_threads = 1;
  c->dtype = MAML_DTYPE_FLOAT32;
  c->seed = 1234;
}

static inline maml_model* new_model(const maml_config* c) {
  maml_model* m = BOGUS_MODEL;
  assert_ok(maml_create(c, &m));
  assert_non_null(m);
  assert_true(m != BOGUS_MODEL);
  return m;
}

static inline maml_model* new_small_model(void) {
  maml_config c;
  small_config(&c);
  return new_model(&c);
}

/* A copy of m whose learned inner rates for `tensor` (an adapted tensor's name, e.g.
 * "backbone.head.weight") are all `rate`, through its file bytes: maml_config bounds inner_lr, but
 * a file may carry any finite learned rate, which is how adaptation can still diverge. */
static inline maml_model* model_with_rate(const maml_model* m, const char* tensor, float rate) {
  void* data = NULL;
  size_t size = 0, i;
  uint64_t header_len = 0;
  char key[256], *header, *at;
  unsigned long long begin = 0, end = 0;
  maml_model* out = NULL;
  assert_int_equal(maml_save_buffer(m, &data, &size), MAML_OK);
  for (i = 0; i < 8; ++i) header_len |= (uint64_t)((unsigned char*)data)[i] << (8 * i);
  header = (char*)malloc((size_t)header_len + 1);
  assert_non_null(header);
  memcpy(header, (char*)data + 8, (size_t)header_len);
  header[header_len] = '\0';
  snprintf(key, sizeof key, "\"lslr.%s\"", tensor);
  at = strstr(header, key);
  assert_non_null(at);
  at = strstr(at, "\"data_offsets\"");
  assert_non_null(at);
  assert_int_equal(sscanf(at, "\"data_offsets\":[%llu,%llu]", &begin, &end), 2);
  for (i = (size_t)begin; i < (size_t)end; i += sizeof(float))
    memcpy((char*)data + 8 + header_len + i, &rate, sizeof rate);
  free(header);
  assert_int_equal(maml_load_buffer(data, size, MAML_DEVICE_CPU, 0, &out), MAML_OK);
  maml_buffer_free(data);
  return out;
}

/* ---------------------------------------------------------------------------------------------
 * Deterministic synthetic data
 * ------------------------------------------------------------------------------------------- */

static inline uint64_t rng_next(uint64_t* s) { /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline float rng_uniform(uint64_t* s) { /* [0, 1) */
  return (float)(rng_next(s) >> 40) / (float)(1ull << 24);
}

/* One image of class `cls` of a task seeded `task_seed`: a class pattern plus example noise. */
static inline void make_image(float* out, uint64_t task_seed, int cls, uint64_t* noise) {
  uint64_t p = task_seed * 1000003ull + (uint64_t)cls * 7919ull + 1;
  int i;
  for (i = 0; i < T_PIXELS; ++i) {
    const float proto = rng_uniform(&p) < 0.3f ? 1.0f : 0.0f;
    out[i] = proto + 0.2f * (rng_uniform(noise) - 0.5f);
  }
}

/* A meta-batch that owns its arrays. */
typedef struct test_batch {
  maml_tasks t;
  float* support_x;
  int32_t* support_y;
  float* query_x;
  int32_t* query_y;
} test_batch;

/* num_tasks tasks of T_WAY classes with `shots` support and `queries` query examples per class. */
static inline test_batch make_batch(int num_tasks, int shots, int queries, uint64_t seed) {
  test_batch b;
  const int ns = T_WAY * shots, nq = T_WAY * queries;
  int task, i;
  uint64_t noise = seed ^ 0xA5A5A5A5ull;
  b.support_x = (float*)malloc(sizeof(float) * (size_t)(num_tasks * ns * T_PIXELS));
  b.support_y = (int32_t*)malloc(sizeof(int32_t) * (size_t)(num_tasks * ns));
  b.query_x = (float*)malloc(sizeof(float) * (size_t)(num_tasks * (nq > 0 ? nq : 1) * T_PIXELS));
  b.query_y = (int32_t*)malloc(sizeof(int32_t) * (size_t)(num_tasks * (nq > 0 ? nq : 1)));
  assert_non_null(b.support_x);
  assert_non_null(b.support_y);
  assert_non_null(b.query_x);
  assert_non_null(b.query_y);
  for (task = 0; task < num_tasks; ++task) {
    const uint64_t task_seed = seed * 131ull + (uint64_t)task;
    for (i = 0; i < ns; ++i) {
      const int k = task * ns + i;
      b.support_y[k] = i % T_WAY;
      make_image(b.support_x + (size_t)k * T_PIXELS, task_seed, b.support_y[k], &noise);
    }
    for (i = 0; i < nq; ++i) {
      const int k = task * nq + i;
      b.query_y[k] = (i + 1) % T_WAY;
      make_image(b.query_x + (size_t)k * T_PIXELS, task_seed, b.query_y[k], &noise);
    }
  }
  memset(&b.t, 0, sizeof b.t);
  b.t.struct_size = sizeof(maml_tasks);
  b.t.num_tasks = num_tasks;
  b.t.support_size = ns;
  b.t.query_size = nq;
  b.t.support_x = b.support_x;
  b.t.support_y = b.support_y;
  b.t.query_x = b.query_x;
  b.t.query_y = b.query_y;
  return b;
}

static inline void free_batch(test_batch* b) {
  free(b->support_x);
  free(b->support_y);
  free(b->query_x);
  free(b->query_y);
  memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------------------------------------
 * Snapshots: a model is "unchanged" when maml_save_buffer gives the same bytes.
 * ------------------------------------------------------------------------------------------- */

typedef struct snapshot {
  void* data;
  size_t size;
  int64_t step;
} snapshot;

static inline snapshot take_snapshot(const maml_model* m) {
  snapshot s;
  s.data = NULL;
  s.size = 0;
  s.step = -1;
  assert_ok(maml_save_buffer(m, &s.data, &s.size));
  assert_non_null(s.data);
  assert_true(s.size > 0);
  assert_ok(maml_get_step(m, &s.step));
  return s;
}

static inline int snapshot_equals(const maml_model* m, const snapshot* s) {
  snapshot now = take_snapshot(m);
  const int same = now.size == s->size && now.step == s->step && memcmp(now.data, s->data, s->size) == 0;
  maml_buffer_free(now.data);
  return same;
}

/* Checks that nothing changed; note that this resets maml_last_error(), so check it first. */
#define assert_unchanged(m, snap)                                                               \
  do {                                                                                          \
    if (!snapshot_equals((m), (snap))) fail_msg("the model changed (save_buffer bytes differ)"); \
  } while (0)

static inline void free_snapshot(snapshot* s) {
  maml_buffer_free(s->data);
  s->data = NULL;
  s->size = 0;
}

#endif /* MAMLPP_TESTS_CAPI_TEST_UTIL_H */
