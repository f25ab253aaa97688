/*
 * Few-shot adaptation and prediction: maml_adapt, maml_adapt_tasks (all or nothing),
 * maml_predict, maml_learner_n_way, maml_learner_free, and learners outliving their model.
 */
#include "test_util.h"

/* A model trained for a few steps, shared by the tests of this group (read-only use). */
static maml_model* g_model;

static int group_setup(void** state) {
  maml_config c;
  test_batch b;
  int i;
  (void)state;
  small_config(&c);
  if (maml_create(&c, &g_model) != MAML_OK) return -1;
  for (i = 0; i < 3; ++i) {
    b = make_batch(2, 1, 2, 500 + (uint64_t)i);
    if (maml_meta_train_step(g_model, &b.t, NULL) != MAML_OK) return -1;
    free_batch(&b);
  }
  return 0;
}

static int group_teardown(void** state) {
  (void)state;
  maml_free(g_model);
  g_model = NULL;
  return 0;
}

static maml_learner* adapt_ok(const maml_model* m, const test_batch* b) {
  maml_learner* l = BOGUS_LEARNER;
  assert_ok(maml_adapt(m, b->support_x, b->support_y, b->t.support_size, &l));
  assert_non_null(l);
  assert_true(l != BOGUS_LEARNER);
  return l;
}

static void test_adapt_and_predict(void** state) {
  test_batch b = make_batch(1, 2, 3, 601);
  maml_learner* l;
  snapshot before;
  float logits[T_WAY * 3 * T_WAY];
  int32_t labels[T_WAY * 3], labels_only[T_WAY * 3], n_way = -1;
  const int32_t nq = b.t.query_size;
  int32_t i, c;
  (void)state;
  before = take_snapshot(g_model);
  l = adapt_ok(g_model, &b);
  assert_no_error();
  assert_unchanged(g_model, &before); /* adaptation leaves the model alone */

  assert_ok(maml_learner_n_way(l, &n_way));
  assert_int_equal(n_way, T_WAY);
  assert_error(maml_learner_n_way(NULL, &n_way), MAML_E_INVALID_ARGUMENT, "learner");
  assert_error(maml_learner_n_way(l, NULL), MAML_E_INVALID_ARGUMENT, "out");

  assert_ok(maml_predict(l, b.query_x, nq, logits, labels));
  assert_no_error();
  for (i = 0; i < nq; ++i) {
    int32_t best = 0;
    for (c = 0; c < T_WAY; ++c) assert_true(isfinite(logits[i * T_WAY + c]));
    for (c = 1; c < T_WAY; ++c)
      if (logits[i * T_WAY + c] > logits[i * T_WAY + best]) best = c;
    assert_int_equal(labels[i], best); /* labels are the argmax of the logits */
  }
  /* Either output may be NULL; a call with both NULL still validates and succeeds. */
  assert_ok(maml_predict(l, b.query_x, nq, NULL, labels_only));
  assert_memory_equal(labels, labels_only, sizeof labels_only);
  assert_ok(maml_predict(l, b.query_x, nq, logits, NULL));
  assert_ok(maml_predict(l, b.query_x, nq, NULL, NULL));

  /* With running BN statistics each example's result does not depend on the others. */
  for (i = 0; i < nq; ++i) {
    float one[T_WAY];
    assert_ok(maml_predict(l, b.query_x + (size_t)i * T_PIXELS, 1, one, NULL));
    for (c = 0; c < T_WAY; ++c) assert_float_equal(one[c], logits[i * T_WAY + c], 1e-5);
  }
  maml_learner_free(l);
  free_snapshot(&before);
  free_batch(&b);
}

static void test_adapt_errors(void** state) {
  test_batch b = make_batch(1, 2, 1, 611);
  snapshot before;
  maml_learner* l;
  const int32_t n = b.t.support_size;
  float saved_x;
  int32_t saved_y;
  (void)state;
  before = take_snapshot(g_model);
#define EXPECT_FAIL(expr, status, needle) \
  do {                                    \
    l = BOGUS_LEARNER;                    \
    assert_error(expr, status, needle);   \
    assert_null(l);                       \
    assert_unchanged(g_model, &before);   \
  } while (0)
  EXPECT_FAIL(maml_adapt(NULL, b.support_x, b.support_y, n, &l), MAML_E_INVALID_ARGUMENT, "model");
  EXPECT_FAIL(maml_adapt(g_model, NULL, b.support_y, n, &l), MAML_E_INVALID_ARGUMENT, "support_x");
  EXPECT_FAIL(maml_adapt(g_model, b.support_x, NULL, n, &l), MAML_E_INVALID_ARGUMENT, "support_y");
  EXPECT_FAIL(maml_adapt(g_model, b.support_x, b.support_y, 0, &l), MAML_E_INVALID_ARGUMENT, "support");
  EXPECT_FAIL(maml_adapt(g_model, b.support_x, b.support_y, -1, &l), MAML_E_INVALID_ARGUMENT, "support");
  EXPECT_FAIL(maml_adapt(g_model, b.support_x, b.support_y, INT32_MIN, &l), MAML_E_INVALID_ARGUMENT,
              "support");

  saved_y = b.support_y[n - 1];
  b.support_y[n - 1] = -1;
  EXPECT_FAIL(maml_adapt(g_model, b.support_x, b.support_y, n, &l), MAML_E_INVALID_ARGUMENT, "support_y");
  b.support_y[n - 1] = T_WAY;
  EXPECT_FAIL(maml_adapt(g_model, b.support_x, b.support_y, n, &l), MAML_E_INVALID_ARGUMENT, "support_y");
  b.support_y[n - 1] = INT32_MAX;
  EXPECT_FAIL(maml_adapt(g_model, b.support_x, b.support_y, n, &l), MAML_E_INVALID_ARGUMENT, "support_y");
  b.support_y[n - 1] = saved_y;

  saved_x = b.support_x[(size_t)n * T_PIXELS - 1];
  b.support_x[(size_t)n * T_PIXELS - 1] = NAN;
  EXPECT_FAIL(maml_adapt(g_model, b.support_x, b.support_y, n, &l), MAML_E_NUMERICAL, "support_x");
  b.support_x[(size_t)n * T_PIXELS - 1] = INFINITY;
  EXPECT_FAIL(maml_adapt(g_model, b.support_x, b.support_y, n, &l), MAML_E_NUMERICAL, "support_x");
  b.support_x[(size_t)n * T_PIXELS - 1] = -INFINITY;
  EXPECT_FAIL(maml_adapt(g_model, b.support_x, b.support_y, n, &l), MAML_E_NUMERICAL, "support_x");
  b.support_x[(size_t)n * T_PIXELS - 1] = saved_x;
#undef EXPECT_FAIL
  assert_error(maml_adapt(g_model, b.support_x, b.support_y, n, NULL), MAML_E_INVALID_ARGUMENT, "out");
  assert_unchanged(g_model, &before);

  /* Still works after all that. */
  l = adapt_ok(g_model, &b);
  maml_learner_free(l);
  free_snapshot(&before);
  free_batch(&b);
}

/* Adaptation that diverges (a file's learned head rate so large the logits overflow) is refused
 * and returns no learner. */
static void test_adapt_diverges(void** state) {
  maml_learner* l = BOGUS_LEARNER;
  test_batch b = make_batch(1, 1, 1, 621);
  maml_model* m = model_with_rate(g_model, "backbone.head.weight", 3e38f);
  (void)state;
  assert_error(maml_adapt(m, b.support_x, b.support_y, b.t.support_size, &l), MAML_E_NUMERICAL, NULL);
  assert_null(l);
  maml_free(m);
  free_batch(&b);
}

static void test_predict_errors(void** state) {
  test_batch b = make_batch(1, 1, 2, 631);
  maml_learner* l = adapt_ok(g_model, &b);
  float logits[T_WAY * 2 * T_WAY], sentinel[T_WAY * 2 * T_WAY];
  int32_t labels[T_WAY * 2], sentinel_labels[T_WAY * 2];
  const int32_t nq = b.t.query_size;
  size_t i;
  (void)state;
  for (i = 0; i < sizeof logits / sizeof logits[0]; ++i) sentinel[i] = -123.0f;
  for (i = 0; i < sizeof labels / sizeof labels[0]; ++i) sentinel_labels[i] = -7;
#define EXPECT_FAIL(expr, status, needle)                          \
  do {                                                             \
    memcpy(logits, sentinel, sizeof logits);                       \
    memcpy(labels, sentinel_labels, sizeof labels);                \
    assert_error(expr, status, needle);                            \
    assert_memory_equal(logits, sentinel, sizeof logits);          \
    assert_memory_equal(labels, sentinel_labels, sizeof labels);   \
  } while (0)
  EXPECT_FAIL(maml_predict(NULL, b.query_x, nq, logits, labels), MAML_E_INVALID_ARGUMENT, "learner");
  EXPECT_FAIL(maml_predict(l, NULL, nq, logits, labels), MAML_E_INVALID_ARGUMENT, "x");
  EXPECT_FAIL(maml_predict(l, b.query_x, 0, logits, labels), MAML_E_INVALID_ARGUMENT, "n");
  EXPECT_FAIL(maml_predict(l, b.query_x, -2, logits, labels), MAML_E_INVALID_ARGUMENT, "n");
  b.query_x[(size_t)nq * T_PIXELS - 1] = NAN;
  EXPECT_FAIL(maml_predict(l, b.query_x, nq, logits, labels), MAML_E_NUMERICAL, "x");
  b.query_x[(size_t)nq * T_PIXELS - 1] = INFINITY;
  EXPECT_FAIL(maml_predict(l, b.query_x, nq, logits, labels), MAML_E_NUMERICAL, "x");
  b.query_x[0] = -INFINITY;
  EXPECT_FAIL(maml_predict(l, b.query_x, 1, logits, labels), MAML_E_NUMERICAL, "x");
#undef EXPECT_FAIL
  maml_learner_free(l);
  free_batch(&b);
}

/* A learner reports the config of the model it came from. */
static void test_learner_get_config(void** state) {
  maml_config model_cfg, got;
  unsigned char big[sizeof(maml_config) + 8];
  maml_config* bigc = (maml_config*)(void*)big;
  maml_model* m = new_small_model();
  test_batch b = make_batch(1, 1, 1, 645);
  maml_learner* l = adapt_ok(m, &b);
  size_t i;
  (void)state;
  model_cfg.struct_size = sizeof model_cfg;
  assert_ok(maml_get_config(m, &model_cfg));
  maml_free(m); /* the learner keeps its own copy */
  memset(&got, 0x3C, sizeof got);
  got.struct_size = sizeof got;
  assert_ok(maml_learner_get_config(l, &got));
  assert_no_error();
  assert_int_equal(got.struct_size, sizeof got);
  assert_int_equal(got.n_way, model_cfg.n_way);
  assert_int_equal(got.image_channels, model_cfg.image_channels);
  assert_int_equal(got.image_height, model_cfg.image_height);
  assert_int_equal(got.image_width, model_cfg.image_width);
  assert_int_equal(got.num_stages, model_cfg.num_stages);
  assert_int_equal(got.num_filters, model_cfg.num_filters);
  assert_int_equal(got.eval_inner_steps, model_cfg.eval_inner_steps);
  assert_int_equal(got.bn_stats, model_cfg.bn_stats);
  assert_int_equal(got.dtype, model_cfg.dtype);
  assert_true(got.seed == model_cfg.seed);

  assert_error(maml_learner_get_config(NULL, &got), MAML_E_INVALID_ARGUMENT, "learner");
  assert_error(maml_learner_get_config(l, NULL), MAML_E_INVALID_ARGUMENT, "out");
  memset(&got, 0x77, sizeof got);
  got.struct_size = 12;
  assert_error(maml_learner_get_config(l, &got), MAML_E_INVALID_ARGUMENT, "struct_size");
  assert_int_equal(got.struct_size, 12);
  assert_int_equal(got.n_way, 0x77777777); /* nothing written */
  memset(big, 0xEE, sizeof big);
  bigc->struct_size = sizeof big;
  assert_ok(maml_learner_get_config(l, bigc));
  assert_int_equal(bigc->struct_size, sizeof big);
  assert_int_equal(bigc->n_way, T_WAY);
  for (i = sizeof(maml_config); i < sizeof big; ++i) assert_int_equal(big[i], 0);
  maml_learner_free(l);
  free_batch(&b);
}

/* Adaptation may take more steps than meta-training did (they reuse the last rates and BN row). */
static void test_more_eval_steps_than_inner_steps(void** state) {
  maml_config c;
  maml_model* m;
  maml_learner *l2, *l5;
  test_batch b = make_batch(2, 1, 2, 647);
  float p2[T_WAY * 2 * T_WAY], p5[T_WAY * 2 * T_WAY];
  maml_metrics mt;
  int k, differ = 0;
  (void)state;
  small_config(&c);
  c.inner_steps = 2;
  c.eval_inner_steps = 2;
  m = new_model(&c);
  assert_ok(maml_meta_train_step(m, &b.t, NULL));
  l2 = adapt_ok(m, &b);
  assert_ok(maml_predict(l2, b.query_x, b.t.query_size, p2, NULL));
  maml_free(m);
  /* The same meta-parameters (same seed, same step) with eval_inner_steps = 5. */
  c.eval_inner_steps = 5;
  m = new_model(&c);
  assert_ok(maml_meta_train_step(m, &b.t, NULL));
  l5 = adapt_ok(m, &b);
  memset(&mt, 0, sizeof mt);
  mt.struct_size = sizeof mt;
  assert_ok(maml_evaluate(m, &b.t, &mt));
  assert_true(isfinite(mt.loss));
  maml_free(m);
  assert_ok(maml_predict(l5, b.query_x, b.t.query_size, p5, NULL));
  for (k = 0; k < b.t.query_size * T_WAY; ++k) {
    assert_true(isfinite(p5[k]));
    differ |= p5[k] != p2[k];
  }
  assert_true(differ); /* three more steps moved the fast weights */
  maml_learner_free(l2);
  maml_learner_free(l5);
  free_batch(&b);
}

/* A learner is independent of its model: freeing the model does not invalidate it. */
static void test_learner_outlives_model(void** state) {
  maml_model* m = new_small_model();
  test_batch b = make_batch(1, 1, 2, 641);
  maml_learner* l;
  float before[T_WAY * 2 * T_WAY], after[T_WAY * 2 * T_WAY];
  int32_t n_way = 0;
  (void)state;
  assert_ok(maml_meta_train_step(m, &b.t, NULL));
  l = adapt_ok(m, &b);
  assert_ok(maml_predict(l, b.query_x, b.t.query_size, before, NULL));
  maml_free(m);
  memset(after, 0, sizeof after);
  assert_ok(maml_predict(l, b.query_x, b.t.query_size, after, NULL));
  assert_memory_equal(before, after, sizeof(float) * (size_t)(b.t.query_size * T_WAY));
  assert_ok(maml_learner_n_way(l, &n_way));
  assert_int_equal(n_way, T_WAY);
  maml_learner_free(l);
  free_batch(&b);
}

/* Adapting twice to the same support set gives bitwise identical learners. */
static void test_adapt_is_deterministic(void** state) {
  test_batch b = make_batch(1, 2, 2, 651);
  maml_learner *a = adapt_ok(g_model, &b), *c = adapt_ok(g_model, &b);
  float la[T_WAY * 2 * T_WAY], lc[T_WAY * 2 * T_WAY];
  (void)state;
  assert_ok(maml_predict(a, b.query_x, b.t.query_size, la, NULL));
  assert_ok(maml_predict(c, b.query_x, b.t.query_size, lc, NULL));
  assert_memory_equal(la, lc, sizeof(float) * (size_t)(b.t.query_size * T_WAY));
  maml_learner_free(a);
  maml_learner_free(c);
  free_batch(&b);
}

#define NT 3

static void test_adapt_tasks(void** state) {
  test_batch b = make_batch(NT, 1, 2, 661);
  maml_learner* out[NT];
  maml_tasks t = b.t;
  snapshot before;
  int i;
  (void)state;
  before = take_snapshot(g_model);
  /* Query fields are ignored: they may be absent. */
  t.query_size = 0;
  t.query_x = NULL;
  t.query_y = NULL;
  for (i = 0; i < NT; ++i) out[i] = BOGUS_LEARNER;
  assert_ok(maml_adapt_tasks(g_model, &t, out));
  assert_no_error();
  assert_unchanged(g_model, &before);
  for (i = 0; i < NT; ++i) {
    /* Each learner predicts what maml_adapt on that task alone predicts. */
    maml_learner* single = BOGUS_LEARNER;
    float lt[T_WAY * 2 * T_WAY], ls[T_WAY * 2 * T_WAY];
    const size_t so = (size_t)(i * b.t.support_size), qo = (size_t)(i * b.t.query_size);
    int k;
    assert_non_null(out[i]);
    assert_true(out[i] != BOGUS_LEARNER);
    assert_ok(maml_adapt(g_model, b.support_x + so * T_PIXELS, b.support_y + so, b.t.support_size,
                         &single));
    assert_ok(maml_predict(out[i], b.query_x + qo * T_PIXELS, b.t.query_size, lt, NULL));
    assert_ok(maml_predict(single, b.query_x + qo * T_PIXELS, b.t.query_size, ls, NULL));
    for (k = 0; k < b.t.query_size * T_WAY; ++k) assert_float_equal(lt[k], ls[k], 1e-4);
    maml_learner_free(single);
  }
  for (i = 0; i < NT; ++i) maml_learner_free(out[i]);
  free_snapshot(&before);
  free_batch(&b);
}

/* The header says maml_adapt_tasks ignores the query fields: an absent query set with any
 * query_size is not validated (it used to make "the meta-batch is too large"). */
static void test_adapt_tasks_ignores_query_fields(void** state) {
  test_batch b = make_batch(NT, 1, 1, 671);
  maml_learner* out[NT];
  maml_tasks t = b.t;
  const int32_t query_sizes[2] = {-1, INT32_MAX};
  int i, q;
  (void)state;
  t.query_x = NULL;
  t.query_y = NULL;
  for (q = 0; q < 2; ++q) {
    t.query_size = query_sizes[q];
    for (i = 0; i < NT; ++i) out[i] = BOGUS_LEARNER;
    assert_ok(maml_adapt_tasks(g_model, &t, out));
    for (i = 0; i < NT; ++i) {
      assert_true(out[i] != NULL && out[i] != BOGUS_LEARNER);
      maml_learner_free(out[i]);
    }
  }
  free_batch(&b);
}

/* One 28x28 stage of 64 filters: about 650 KB of activations per example, but cheap to run. */
static maml_model* wide_model(void) {
  maml_config c;
  small_config(&c);
  c.image_height = c.image_width = 28;
  c.num_stages = 1;
  c.num_filters = 64;
  return new_model(&c);
}

#define WIDE_PIXELS (28 * 28)

/* An adaptation whose activations could never fit (40,000 examples of a default-sized model:
 * about 200 GB) is refused at once with MAML_E_OUT_OF_MEMORY and a plain message; the input is
 * not even read. */
static void test_adapt_too_large_is_refused(void** state) {
  maml_config c;
  maml_model* m;
  maml_learner* l = BOGUS_LEARNER;
  maml_learner* out[1] = {BOGUS_LEARNER};
  const int32_t n = 40000;
  float* x;
  int32_t* y;
  maml_tasks t;
  snapshot before;
  (void)state;
  maml_config_init(&c); /* Omniglot 28x28, 4 stages of 64 filters */
  c.device_type = MAML_DEVICE_CPU;
  c.num_threads = 1;
  m = new_model(&c);
  before = take_snapshot(m);
  x = (float*)calloc((size_t)n * 28 * 28, sizeof(float)); /* zero pages: nothing is written */
  y = (int32_t*)calloc((size_t)n, sizeof(int32_t));
  assert_non_null(x);
  assert_non_null(y);
  assert_error(maml_adapt(m, x, y, n, &l), MAML_E_OUT_OF_MEMORY, "40000");
  assert_null(l);
  check_last_error_("maml_adapt", "fewer support examples");
  memset(&t, 0, sizeof t);
  t.struct_size = sizeof t;
  t.num_tasks = 1;
  t.support_size = n;
  t.support_x = x;
  t.support_y = y;
  assert_error(maml_adapt_tasks(m, &t, out), MAML_E_OUT_OF_MEMORY, "limit");
  assert_null(out[0]);
  /* A 20,000 + 20,000 task to train or evaluate on. */
  t.support_size = t.query_size = n / 2;
  t.query_x = x;
  t.query_y = y;
  assert_error(maml_meta_train_step(m, &t, NULL), MAML_E_OUT_OF_MEMORY, "fewer examples per task");
  {
    maml_metrics mt;
    memset(&mt, 0, sizeof mt);
    mt.struct_size = sizeof mt;
    assert_error(maml_evaluate(m, &t, &mt), MAML_E_OUT_OF_MEMORY, "fewer examples per task");
  }
  assert_unchanged(m, &before);
  free(x);
  free(y);
  free_snapshot(&before);
  maml_free(m);
}

/* Prediction runs in chunks of bounded memory: many examples in one call give the logits each
 * gives alone. */
static void test_predict_many_in_chunks(void** state) {
  maml_model* m = wide_model();
  const int32_t n = 1500; /* about 1 GB of activations in one pass; chunks of 256 MiB */
  float* x = (float*)malloc(sizeof(float) * (size_t)n * WIDE_PIXELS);
  float* all = (float*)malloc(sizeof(float) * (size_t)n * T_WAY);
  float one[T_WAY];
  int32_t y[T_WAY], labels[3];
  maml_learner* l = BOGUS_LEARNER;
  uint64_t seed = 99;
  size_t i;
  int k, j;
  (void)state;
  assert_non_null(x);
  assert_non_null(all);
  for (i = 0; i < (size_t)n * WIDE_PIXELS; ++i) x[i] = rng_uniform(&seed);
  for (k = 0; k < T_WAY; ++k) y[k] = k;
  assert_ok(maml_adapt(m, x, y, T_WAY, &l));
  assert_ok(maml_predict(l, x, n, all, NULL));
  for (k = 0; k < 3; ++k) { /* the first, one in the middle and the last example, alone */
    const int32_t at = k == 0 ? 0 : k == 1 ? n / 2 + 7 : n - 1;
    assert_ok(maml_predict(l, x + (size_t)at * WIDE_PIXELS, 1, one, labels + k));
    /* Relative: a batch of 1 and one of 256 may take different GEMM kernels (LibTorch 2.x's do),
     * and the logits of this wide random model reach several hundred. */
    for (j = 0; j < T_WAY; ++j) {
      const float want = all[(size_t)at * T_WAY + (size_t)j];
      assert_float_equal(one[j], want, 1e-5 * (1.0 + fabs(want)));
    }
  }
  maml_learner_free(l);
  free(x);
  free(all);
  maml_free(m);
}

static void assert_all_null(maml_learner* const* out, int n, int line) {
  int i;
  for (i = 0; i < n; ++i)
    if (out[i] != NULL) fail_msg("line %d: out[%d] is not NULL after a failed maml_adapt_tasks", line, i);
}

static void test_adapt_tasks_all_or_nothing(void** state) {
  test_batch b = make_batch(NT, 1, 1, 671);
  maml_learner* out[NT];
  maml_tasks t;
  snapshot before;
  const int last_label = NT * b.t.support_size - 1;
  int i;
  struct {
    maml_tasks t;
    int64_t future;
  } newer;
  (void)state;
  before = take_snapshot(g_model);
#define EXPECT_FAIL(tasks, status, needle)                      \
  do {                                                          \
    for (i = 0; i < NT; ++i) out[i] = BOGUS_LEARNER;            \
    assert_error(maml_adapt_tasks(g_model, tasks, out), status, needle); \
    assert_all_null(out, NT, __LINE__);                         \
    assert_unchanged(g_model, &before);                         \
  } while (0)
  /* A bad label in the last task: no learner for the earlier, valid tasks either. */
  b.support_y[last_label] = T_WAY;
  EXPECT_FAIL(&b.t, MAML_E_INVALID_ARGUMENT, "support_y");
  b.support_y[last_label] = -1;
  EXPECT_FAIL(&b.t, MAML_E_INVALID_ARGUMENT, "support_y");
  b.support_y[last_label] = 0;
  b.support_x[(size_t)(NT * b.t.support_size) * T_PIXELS - 1] = NAN;
  EXPECT_FAIL(&b.t, MAML_E_NUMERICAL, "support_x");
  b.support_x[(size_t)(NT * b.t.support_size) * T_PIXELS - 1] = 0.5f;
  t = b.t; t.support_x = NULL;
  EXPECT_FAIL(&t, MAML_E_INVALID_ARGUMENT, "support_x");
  t = b.t; t.support_y = NULL;
  EXPECT_FAIL(&t, MAML_E_INVALID_ARGUMENT, "support_y");
  t = b.t; t.support_size = 0;
  EXPECT_FAIL(&t, MAML_E_INVALID_ARGUMENT, "support_size");
  t = b.t; t.support_size = -1;
  EXPECT_FAIL(&t, MAML_E_INVALID_ARGUMENT, "support_size");
  newer.t = b.t;
  newer.t.struct_size = sizeof newer;
  newer.future = 3;
  EXPECT_FAIL(&newer.t, MAML_E_UNSUPPORTED, "batch");
#undef EXPECT_FAIL
  /* num_tasks <= 0: nothing to write. */
  t = b.t; t.num_tasks = 0;
  out[0] = BOGUS_LEARNER;
  assert_error(maml_adapt_tasks(g_model, &t, out), MAML_E_INVALID_ARGUMENT, "num_tasks");
  assert_true(out[0] == BOGUS_LEARNER);
  t = b.t; t.struct_size = 4;
  assert_error(maml_adapt_tasks(g_model, &t, out), MAML_E_INVALID_ARGUMENT, "struct_size");
  for (i = 0; i < NT; ++i) out[i] = BOGUS_LEARNER;
  assert_error(maml_adapt_tasks(NULL, &b.t, out), MAML_E_INVALID_ARGUMENT, "model");
  assert_all_null(out, NT, __LINE__);
  assert_error(maml_adapt_tasks(g_model, NULL, out), MAML_E_INVALID_ARGUMENT, "batch");
  assert_error(maml_adapt_tasks(g_model, &b.t, NULL), MAML_E_INVALID_ARGUMENT, "out");
  /* Still fine afterwards. */
  assert_ok(maml_adapt_tasks(g_model, &b.t, out));
  for (i = 0; i < NT; ++i) {
    assert_non_null(out[i]);
    maml_learner_free(out[i]);
  }
  free_snapshot(&before);
  free_batch(&b);
}

/* Support statistics and transductive BN: both adapt and predict; transductive results depend
 * on the batch, support-statistics results do not. */
static void test_bn_modes(void** state) {
  int mode;
  (void)state;
  for (mode = MAML_BN_RUNNING; mode <= MAML_BN_SUPPORT; ++mode) {
    maml_config c;
    maml_model* m;
    maml_learner* l;
    test_batch b = make_batch(1, 1, 2, 681 + (uint64_t)mode);
    float all[T_WAY * 2 * T_WAY], one[T_WAY];
    int k;
    small_config(&c);
    c.bn_stats = mode;
    m = new_model(&c);
    assert_ok(maml_meta_train_step(m, &b.t, NULL));
    l = adapt_ok(m, &b);
    assert_ok(maml_predict(l, b.query_x, b.t.query_size, all, NULL));
    for (k = 0; k < b.t.query_size * T_WAY; ++k) assert_true(isfinite(all[k]));
    if (mode != MAML_BN_TRANSDUCTIVE) {
      assert_ok(maml_predict(l, b.query_x + T_PIXELS, 1, one, NULL));
      for (k = 0; k < T_WAY; ++k) assert_float_equal(one[k], all[T_WAY + k], 1e-5);
    }
    maml_learner_free(l);
    maml_free(m);
    free_batch(&b);
  }
}

/* The task-batched inner loop gives what the per-task loop gives (to float32 rounding). */
static void test_task_batching_paths_agree(void** state) {
  maml_config c;
  maml_model *loop, *batched;
  test_batch b = make_batch(NT, 1, 2, 691);
  maml_learner *lo[NT], *ba[NT];
  maml_metrics ml, mb;
  int i, k;
  (void)state;
  small_config(&c);
  c.task_batching = MAML_TASKS_LOOP;
  loop = new_model(&c);
  c.task_batching = MAML_TASKS_BATCHED;
  batched = new_model(&c);
  memset(&ml, 0, sizeof ml);
  ml.struct_size = sizeof ml;
  mb = ml;
  assert_ok(maml_meta_train_step(loop, &b.t, &ml));
  assert_ok(maml_meta_train_step(batched, &b.t, &mb));
  assert_float_equal(ml.loss, mb.loss, 1e-4 * (fabsf(ml.loss) + 1.0f));
  assert_ok(maml_adapt_tasks(loop, &b.t, lo));
  assert_ok(maml_adapt_tasks(batched, &b.t, ba));
  for (i = 0; i < NT; ++i) {
    float pl[T_WAY * 2 * T_WAY], pb[T_WAY * 2 * T_WAY];
    const size_t qo = (size_t)(i * b.t.query_size) * T_PIXELS;
    assert_ok(maml_predict(lo[i], b.query_x + qo, b.t.query_size, pl, NULL));
    assert_ok(maml_predict(ba[i], b.query_x + qo, b.t.query_size, pb, NULL));
    for (k = 0; k < b.t.query_size * T_WAY; ++k) assert_float_equal(pl[k], pb[k], 1e-3);
    maml_learner_free(lo[i]);
    maml_learner_free(ba[i]);
  }
  maml_free(loop);
  maml_free(batched);
  free_batch(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_adapt_and_predict),
      cmocka_unit_test(test_adapt_errors),
      cmocka_unit_test(test_adapt_diverges),
      cmocka_unit_test(test_predict_errors),
      cmocka_unit_test(test_learner_outlives_model),
      cmocka_unit_test(test_learner_get_config),
      cmocka_unit_test(test_more_eval_steps_than_inner_steps),
      cmocka_unit_test(test_adapt_is_deterministic),
      cmocka_unit_test(test_adapt_tasks),
      cmocka_unit_test(test_adapt_tasks_all_or_nothing),
      cmocka_unit_test(test_adapt_tasks_ignores_query_fields),
      cmocka_unit_test(test_adapt_too_large_is_refused),
      cmocka_unit_test(test_predict_many_in_chunks),
      cmocka_unit_test(test_bn_modes),
      cmocka_unit_test(test_task_batching_paths_agree),
  };
  return cmocka_run_group_tests_name("capi_adapt", tests, group_setup, group_teardown);
}
