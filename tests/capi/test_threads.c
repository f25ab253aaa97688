/*
 * Concurrency as the header promises it: maml_adapt on one model from many threads at once, and
 * maml_predict on one learner from many threads at once, give exactly (memcmp) what serial calls
 * give. Errors on worker threads stay on those threads.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "test_util.h"

#define THREADS 4
#define ROUNDS 3
#define SHOTS 2
#define QUERIES 4
#define NQ (T_WAY * QUERIES)

static maml_model* g_model;
static test_batch g_tasks[THREADS]; /* one task per thread */

static int group_setup(void** state) {
  maml_config c;
  int i;
  (void)state;
  small_config(&c);
  if (maml_create(&c, &g_model) != MAML_OK) return -1;
  for (i = 0; i < 3; ++i) {
    test_batch b = make_batch(2, 1, 2, 900 + (uint64_t)i);
    const maml_status s = maml_meta_train_step(g_model, &b.t, NULL);
    free_batch(&b);
    if (s != MAML_OK) return -1;
  }
  for (i = 0; i < THREADS; ++i) g_tasks[i] = make_batch(1, SHOTS, QUERIES, 950 + (uint64_t)i);
  return 0;
}

static int group_teardown(void** state) {
  int i;
  (void)state;
  for (i = 0; i < THREADS; ++i) free_batch(&g_tasks[i]);
  maml_free(g_model);
  return 0;
}

/* Serial reference: adapt to task i, predict its queries. */
static void serial_logits(int i, float* logits) {
  maml_learner* l = NULL;
  const test_batch* b = &g_tasks[i];
  assert_ok(maml_adapt(g_model, b->support_x, b->support_y, b->t.support_size, &l));
  assert_ok(maml_predict(l, b->query_x, NQ, logits, NULL));
  maml_learner_free(l);
}

/* A worker's job and what it found. Workers never call cmocka (not thread-safe); they record. */
typedef struct job {
  int task;
  const maml_learner* learner; /* predict-only jobs */
  pthread_barrier_t* start;
  float logits[ROUNDS][NQ * T_WAY];
  int32_t labels[ROUNDS][NQ];
  maml_status status;
  char error[256];
} job;

static void record(job* j, maml_status s) {
  if (s != MAML_OK && j->status == MAML_OK) {
    j->status = s;
    snprintf(j->error, sizeof j->error, "%s", maml_last_error());
  }
}

static void* adapt_worker(void* arg) {
  job* j = (job*)arg;
  const test_batch* b = &g_tasks[j->task];
  int r;
  pthread_barrier_wait(j->start);
  for (r = 0; r < ROUNDS; ++r) {
    maml_learner* l = NULL;
    record(j, maml_adapt(g_model, b->support_x, b->support_y, b->t.support_size, &l));
    if (l == NULL) return NULL;
    record(j, maml_predict(l, b->query_x, NQ, j->logits[r], j->labels[r]));
    maml_learner_free(l);
  }
  return NULL;
}

static void* predict_worker(void* arg) {
  job* j = (job*)arg;
  const test_batch* b = &g_tasks[j->task];
  int r;
  pthread_barrier_wait(j->start);
  for (r = 0; r < ROUNDS; ++r) record(j, maml_predict(j->learner, b->query_x, NQ, j->logits[r], j->labels[r]));
  return NULL;
}

static job* run_jobs(void* (*worker)(void*), const maml_learner* learner, int same_task) {
  static job jobs[THREADS];
  pthread_t threads[THREADS];
  pthread_barrier_t start;
  int i;
  assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < THREADS; ++i) {
    jobs[i].task = same_task ? 0 : i;
    jobs[i].learner = learner;
    jobs[i].start = &start;
    jobs[i].status = MAML_OK;
    assert_int_equal(pthread_create(&threads[i], NULL, worker, &jobs[i]), 0);
  }
  for (i = 0; i < THREADS; ++i) assert_int_equal(pthread_join(threads[i], NULL), 0);
  assert_int_equal(pthread_barrier_destroy(&start), 0);
  for (i = 0; i < THREADS; ++i)
    if (jobs[i].status != MAML_OK)
      fail_msg("thread %d: %s: %s", i, maml_status_string(jobs[i].status), jobs[i].error);
  return jobs;
}

static void test_concurrent_adapt_different_tasks(void** state) {
  float expected[THREADS][NQ * T_WAY];
  snapshot before;
  job* jobs;
  int i, r;
  (void)state;
  for (i = 0; i < THREADS; ++i) serial_logits(i, expected[i]);
  before = take_snapshot(g_model);
  jobs = run_jobs(adapt_worker, NULL, 0);
  for (i = 0; i < THREADS; ++i)
    for (r = 0; r < ROUNDS; ++r) assert_memory_equal(jobs[i].logits[r], expected[i], sizeof expected[i]);
  assert_unchanged(g_model, &before);
  free_snapshot(&before);
}

static void test_concurrent_adapt_same_task(void** state) {
  float expected[NQ * T_WAY];
  job* jobs;
  int i, r;
  (void)state;
  serial_logits(0, expected);
  jobs = run_jobs(adapt_worker, NULL, 1);
  for (i = 0; i < THREADS; ++i)
    for (r = 0; r < ROUNDS; ++r) assert_memory_equal(jobs[i].logits[r], expected, sizeof expected);
}

static void test_concurrent_predict_one_learner(void** state) {
  maml_learner* l = NULL;
  float expected[THREADS][NQ * T_WAY];
  int32_t labels[THREADS][NQ];
  job* jobs;
  int i, r;
  (void)state;
  assert_ok(maml_adapt(g_model, g_tasks[0].support_x, g_tasks[0].support_y, g_tasks[0].t.support_size, &l));
  for (i = 0; i < THREADS; ++i) assert_ok(maml_predict(l, g_tasks[i].query_x, NQ, expected[i], labels[i]));
  jobs = run_jobs(predict_worker, l, 0); /* each thread predicts a different query set */
  for (i = 0; i < THREADS; ++i)
    for (r = 0; r < ROUNDS; ++r) {
      assert_memory_equal(jobs[i].logits[r], expected[i], sizeof expected[i]);
      assert_memory_equal(jobs[i].labels[r], labels[i], sizeof labels[i]);
    }
  jobs = run_jobs(predict_worker, l, 1); /* all threads predict the same query set */
  for (i = 0; i < THREADS; ++i)
    for (r = 0; r < ROUNDS; ++r) assert_memory_equal(jobs[i].logits[r], expected[0], sizeof expected[0]);
  maml_learner_free(l);
}

/* Failing calls on worker threads at the same time as successful ones: each thread's status and
 * message are its own. */
typedef struct error_job {
  int fail;
  pthread_barrier_t* start;
  maml_status status;
  char error[256];
} error_job;

static void* error_worker(void* arg) {
  error_job* j = (error_job*)arg;
  const test_batch* b = &g_tasks[0];
  maml_learner* l = NULL;
  int32_t bad[T_WAY * SHOTS];
  int k;
  for (k = 0; k < T_WAY * SHOTS; ++k) bad[k] = T_WAY + 5;
  pthread_barrier_wait(j->start);
  j->status = maml_adapt(g_model, b->support_x, j->fail ? bad : b->support_y, b->t.support_size, &l);
  snprintf(j->error, sizeof j->error, "%s", maml_last_error());
  maml_learner_free(l);
  return NULL;
}

static void test_errors_stay_on_their_thread(void** state) {
  error_job jobs[THREADS];
  pthread_t threads[THREADS];
  pthread_barrier_t start;
  int i;
  (void)state;
  assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
  for (i = 0; i < THREADS; ++i) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    jobs[i].fail = i % 2;
    jobs[i].start = &start;
    assert_int_equal(pthread_create(&threads[i], NULL, error_worker, &jobs[i]), 0);
  }
  for (i = 0; i < THREADS; ++i) assert_int_equal(pthread_join(threads[i], NULL), 0);
  assert_int_equal(pthread_barrier_destroy(&start), 0);
  for (i = 0; i < THREADS; ++i) {
    if (jobs[i].fail) {
      assert_int_equal(jobs[i].status, MAML_E_INVALID_ARGUMENT);
      assert_non_null(strstr(jobs[i].error, "support_y"));
    } else {
      assert_int_equal(jobs[i].status, MAML_OK);
      assert_string_equal(jobs[i].error, "");
    }
  }
}

/* maml_save_buffer, maml_get_*, maml_inner_lr_* and maml_evaluate may run from many threads at
 * once (every call taking a const maml_model*). */
typedef struct read_job {
  pthread_barrier_t* start;
  void* data;
  size_t size;
  float rates[64];
  int64_t step;
  maml_metrics metrics;
  maml_status status;
} read_job;

static void* read_worker(void* arg) {
  read_job* j = (read_job*)arg;
  int32_t tensors = 0, steps = 0;
  const char* name = NULL;
  maml_config c;
  pthread_barrier_wait(j->start);
  c.struct_size = sizeof c;
  j->status = maml_save_buffer(g_model, &j->data, &j->size);
  if (j->status == MAML_OK) j->status = maml_get_step(g_model, &j->step);
  if (j->status == MAML_OK) j->status = maml_get_config(g_model, &c);
  if (j->status == MAML_OK) j->status = maml_inner_lr_shape(g_model, &tensors, &steps);
  if (j->status == MAML_OK && tensors * steps <= 64)
    j->status = maml_get_inner_lrs(g_model, j->rates, tensors * steps);
  if (j->status == MAML_OK) j->status = maml_inner_lr_name(g_model, 0, &name);
  if (j->status == MAML_OK) {
    j->metrics.struct_size = sizeof j->metrics;
    j->status = maml_evaluate(g_model, &g_tasks[0].t, &j->metrics);
  }
  return NULL;
}

static void test_concurrent_reads(void** state) {
  read_job jobs[THREADS];
  pthread_t threads[THREADS];
  pthread_barrier_t start;
  snapshot expected = take_snapshot(g_model);
  maml_metrics serial;
  int i;
  (void)state;
  memset(&serial, 0, sizeof serial);
  serial.struct_size = sizeof serial;
  assert_ok(maml_evaluate(g_model, &g_tasks[0].t, &serial));
  assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
  for (i = 0; i < THREADS; ++i) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    jobs[i].start = &start;
    assert_int_equal(pthread_create(&threads[i], NULL, read_worker, &jobs[i]), 0);
  }
  for (i = 0; i < THREADS; ++i) assert_int_equal(pthread_join(threads[i], NULL), 0);
  assert_int_equal(pthread_barrier_destroy(&start), 0);
  for (i = 0; i < THREADS; ++i) {
    assert_int_equal(jobs[i].status, MAML_OK);
    assert_int_equal(jobs[i].size, expected.size);
    assert_memory_equal(jobs[i].data, expected.data, expected.size);
    assert_int_equal(jobs[i].step, expected.step);
    assert_memory_equal(jobs[i].rates, jobs[0].rates, sizeof jobs[0].rates);
    assert_true(jobs[i].metrics.loss == serial.loss);
    assert_true(jobs[i].metrics.accuracy == serial.accuracy);
    maml_buffer_free(jobs[i].data);
  }
  assert_unchanged(g_model, &expected);
  free_snapshot(&expected);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_concurrent_adapt_different_tasks),
      cmocka_unit_test(test_concurrent_adapt_same_task),
      cmocka_unit_test(test_concurrent_predict_one_learner),
      cmocka_unit_test(test_errors_stay_on_their_thread),
      cmocka_unit_test(test_concurrent_reads),
  };
  return cmocka_run_group_tests_name("capi_threads", tests, group_setup, group_teardown);
}
