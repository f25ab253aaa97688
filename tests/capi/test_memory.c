/*
 * Running out of memory: a call whose allocation fails returns MAML_E_OUT_OF_MEMORY with a
 * plain message (LibTorch's CPU allocator says "can't allocate memory", which used to come back
 * as MAML_E_INTERNAL), and prediction on many examples runs in chunks of bounded memory.
 *
 * Each test runs in a child process whose address space is capped (RLIMIT_AS) a little above
 * what it uses once its model exists, so that a large call really fails to allocate. Skipped
 * under AddressSanitizer, which reserves terabytes of address space for its shadow memory.
 */
#define _POSIX_C_SOURCE 200809L
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define MAMLPP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAMLPP_ASAN 1
#endif
#endif

#define PIXELS (28 * 28)
#define HEADROOM ((rlim_t)768 << 20) /* address space allowed beyond what the process uses */

/* One 28x28 stage of 64 filters: about 650 KB of activations per example, cheap to compute. */
static maml_model* wide_model(void) {
  maml_config c;
  maml_model* m = NULL;
  small_config(&c);
  c.device_type = MAML_DEVICE_CPU;
  c.image_height = c.image_width = 28;
  c.num_stages = 1;
  c.num_filters = 64;
  if (maml_create(&c, &m) != MAML_OK) return NULL;
  return m;
}

static float* images(int32_t n, uint64_t seed) {
  float* x = (float*)malloc(sizeof(float) * (size_t)n * PIXELS);
  size_t i;
  if (x != NULL)
    for (i = 0; i < (size_t)n * PIXELS; ++i) x[i] = rng_uniform(&seed);
  return x;
}

/* Caps the address space at the current size plus HEADROOM. */
static int cap_address_space(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  struct rlimit r;
  if (f == NULL) return -1;
  if (fscanf(f, "%lu", &pages) != 1) pages = 0;
  fclose(f);
  if (pages == 0) return -1;
  r.rlim_cur = r.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + HEADROOM;
  return setrlimit(RLIMIT_AS, &r);
}

/* Runs body() in a child with the capped address space; returns its exit status (0 = passed). */
static int in_capped_child(int (*body)(void)) {
  pid_t pid;
  int status = 0;
  fflush(NULL);
  pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int rc = body();
    fflush(NULL);
    _exit(rc);
  }
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFSIGNALED(status)) {
    fprintf(stderr, "the child died of signal %d\n", WTERMSIG(status));
    return 100 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}

/* Adaptation on 3,000 examples (about 2 GB of activations per pass, under the library's own
 * estimate limit) in an address space with 768 MiB to spare: the allocation fails, and the
 * call says so plainly with MAML_E_OUT_OF_MEMORY. */
static int adapt_beyond_memory(void) {
  const int32_t n = 3000;
  maml_model* m = wide_model();
  maml_learner* l = NULL;
  float* x = images(n, 5);
  int32_t* y = (int32_t*)calloc((size_t)n, sizeof(int32_t));
  maml_status s;
  const char* msg;
  if (m == NULL || x == NULL || y == NULL) return 2;
  if (maml_adapt(m, x, y, 3, &l) != MAML_OK) return 3; /* warm up: thread pools, kernels */
  maml_learner_free(l);
  l = NULL;
  if (cap_address_space() != 0) return 4;
  s = maml_adapt(m, x, y, n, &l);
  msg = maml_last_error();
  if (s != MAML_E_OUT_OF_MEMORY) {
    fprintf(stderr, "maml_adapt on %d examples returned %s: %s\n", n, maml_status_string(s), msg);
    return 5;
  }
  if (strstr(msg, "out of memory") == NULL || strstr(msg, "fewer or smaller inputs") == NULL) {
    fprintf(stderr, "not a plain out-of-memory message: %s\n", msg);
    return 6;
  }
  if (l != NULL) return 7;
  printf("maml_adapt on %d examples: %s: %s\n", n, maml_status_string(s), msg);
  /* The model still works. */
  if (maml_adapt(m, x, y, 3, &l) != MAML_OK) return 8;
  maml_learner_free(l);
  maml_free(m);
  free(x);
  free(y);
  return 0;
}

static void test_out_of_memory_is_reported_as_such(void** state) {
  (void)state;
#ifdef MAMLPP_ASAN
  skip();
#endif
  assert_int_equal(in_capped_child(adapt_beyond_memory), 0);
}

/* Prediction on 4,000 examples (about 2.6 GB of activations in one pass) in the same capped
 * address space: it runs in chunks, so it simply works. */
static int predict_many(void) {
  const int32_t n = 4000;
  maml_model* m = wide_model();
  maml_learner* l = NULL;
  float* x = images(n, 6);
  float* logits = (float*)malloc(sizeof(float) * (size_t)n * T_WAY);
  int32_t y[T_WAY];
  int32_t* labels = (int32_t*)malloc(sizeof(int32_t) * (size_t)n);
  maml_status s;
  int k;
  for (k = 0; k < T_WAY; ++k) y[k] = k;
  if (m == NULL || x == NULL || logits == NULL || labels == NULL) return 2;
  if (maml_adapt(m, x, y, T_WAY, &l) != MAML_OK) return 3;
  if (maml_predict(l, x, 3, logits, labels) != MAML_OK) return 3; /* warm up */
  if (cap_address_space() != 0) return 4;
  s = maml_predict(l, x, n, logits, labels);
  if (s != MAML_OK) {
    fprintf(stderr, "maml_predict on %d examples returned %s: %s\n", n, maml_status_string(s),
            maml_last_error());
    return 5;
  }
  for (k = 0; k < n * T_WAY; ++k)
    if (!isfinite(logits[k])) return 6;
  maml_learner_free(l);
  maml_free(m);
  free(x);
  free(logits);
  free(labels);
  return 0;
}

static void test_predict_many_in_bounded_memory(void** state) {
  (void)state;
#ifdef MAMLPP_ASAN
  skip();
#endif
  assert_int_equal(in_capped_child(predict_many), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_out_of_memory_is_reported_as_such),
      cmocka_unit_test(test_predict_many_in_bounded_memory),
  };
  return cmocka_run_group_tests_name("capi_memory", tests, NULL, NULL);
}
