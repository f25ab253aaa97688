/*
 * Vector inputs and regression (1.3): an MLP regression model through the C ABI. Float targets
 * in maml_tasks, maml_adapt_regression, values from maml_predict, NaN accuracy, the new config
 * fields' validation and round trip, and every refusal (labels for a regression model, targets
 * for a classifier, non-finite targets) leaving the model unchanged.
 */
#include <math.h>

#include "test_util.h"

#define R_IN 2
#define R_OUT 2
#define R_TASKS 3
#define R_SUPPORT 6
#define R_QUERY 5

static void mlp_config(maml_config* c) {
  maml_config_init(c);
  c->backbone = MAML_BACKBONE_MLP;
  c->input_features = R_IN;
  c->hidden_layers = 2;
  c->hidden_sizes[0] = 8;
  c->hidden_sizes[1] = 6;
  c->activation = MAML_ACTIVATION_RELU;
  c->task_kind = MAML_TASK_REGRESSION;
  c->n_outputs = R_OUT;
  c->inner_steps = 2;
  c->eval_inner_steps = 3;
  c->inner_lr = 0.05f;
  c->device_type = MAML_DEVICE_CPU;
  c->seed = 4;
}

/* Tasks y = a * x0 + b * x1 (output 0) and a - x1 (output 1), a and b per task. */
typedef struct reg_batch {
  maml_tasks t;
  float sx[R_TASKS * R_SUPPORT * R_IN], st[R_TASKS * R_SUPPORT * R_OUT];
  float qx[R_TASKS * R_QUERY * R_IN], qt[R_TASKS * R_QUERY * R_OUT];
} reg_batch;

static void fill_rows(float* x, float* t, int rows, float a, float b, unsigned* seed) {
  int i;
  for (i = 0; i < rows; ++i) {
    *seed = *seed * 1103515245u + 12345u;
    x[i * R_IN] = (float)((*seed >> 8) % 1000) / 250.0f - 2.0f;
    *seed = *seed * 1103515245u + 12345u;
    x[i * R_IN + 1] = (float)((*seed >> 8) % 1000) / 250.0f - 2.0f;
    t[i * R_OUT] = a * x[i * R_IN] + b * x[i * R_IN + 1];
    t[i * R_OUT + 1] = a - x[i * R_IN + 1];
  }
}

static void make_reg_batch(reg_batch* r, unsigned seed) {
  int k;
  memset(r, 0, sizeof *r);
  for (k = 0; k < R_TASKS; ++k) {
    const float a = 0.5f + (float)k, b = 1.0f - 0.5f * (float)k;
    fill_rows(r->sx + k * R_SUPPORT * R_IN, r->st + k * R_SUPPORT * R_OUT, R_SUPPORT, a, b, &seed);
    fill_rows(r->qx + k * R_QUERY * R_IN, r->qt + k * R_QUERY * R_OUT, R_QUERY, a, b, &seed);
  }
  r->t.struct_size = sizeof(maml_tasks);
  r->t.num_tasks = R_TASKS;
  r->t.support_size = R_SUPPORT;
  r->t.query_size = R_QUERY;
  r->t.support_x = r->sx;
  r->t.support_t = r->st;
  r->t.query_x = r->qx;
  r->t.query_t = r->qt;
}

static void test_config_fields(void** state) {
  maml_config c, got, old;
  maml_model* m = BOGUS_MODEL;
  (void)state;
  maml_config_init(&c);
  assert_int_equal(c.backbone, MAML_BACKBONE_CONV);
  assert_int_equal(c.hidden_layers, 2);
  assert_int_equal(c.hidden_sizes[0], 40);
  assert_int_equal(c.hidden_sizes[1], 40);
  assert_int_equal(c.hidden_sizes[2], 0);
  assert_int_equal(c.task_kind, MAML_TASK_CLASSIFICATION);
  assert_int_equal(c.n_outputs, 1);
  assert_int_equal(c.batch_norm, 1);

  mlp_config(&c);
  assert_ok(maml_create(&c, &m));
  got.struct_size = sizeof got;
  assert_ok(maml_get_config(m, &got));
  assert_int_equal(got.backbone, MAML_BACKBONE_MLP);
  assert_int_equal(got.input_features, R_IN);
  assert_int_equal(got.hidden_sizes[0], 8);
  assert_int_equal(got.hidden_sizes[1], 6);
  assert_int_equal(got.activation, MAML_ACTIVATION_RELU);
  assert_int_equal(got.task_kind, MAML_TASK_REGRESSION);
  assert_int_equal(got.n_outputs, R_OUT);
  maml_free(m);

  /* A 1.2 caller's struct (144 bytes) gets a conv classifier. */
  maml_config_init(&old);
  old.backbone = 77; /* past the 1.2 struct: never read */
  old.struct_size = 144;
  m = BOGUS_MODEL;
  assert_ok(maml_create(&old, &m));
  got.struct_size = sizeof got;
  assert_ok(maml_get_config(m, &got));
  assert_int_equal(got.backbone, MAML_BACKBONE_CONV);
  assert_int_equal(got.task_kind, MAML_TASK_CLASSIFICATION);
  maml_free(m);

  /* Refusals name the field. */
  mlp_config(&c); c.hidden_sizes[2] = 5;
  m = BOGUS_MODEL;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "hidden_sizes[2]");
  assert_null(m);
  mlp_config(&c); c.hidden_layers = 3;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "hidden_sizes[2]");
  mlp_config(&c); c.hidden_layers = 9;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "hidden_layers");
  mlp_config(&c); c.input_features = 0;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "input_features");
  mlp_config(&c); c.n_outputs = 0;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "n_outputs");
  mlp_config(&c); c.backbone = 2;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "backbone");
  mlp_config(&c); c.task_kind = -1;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "task_kind");
  mlp_config(&c); c.adapt_last_layers = 4; /* 2 hidden layers and the head: at most 3 */
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "adapt_last_layers");
  mlp_config(&c); c.batch_norm = 2;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "batch_norm");
  /* Absurd sizes: refused by the parameter budget and the head's size, before any allocation. */
  mlp_config(&c); c.input_features = 1048576; c.hidden_sizes[0] = 65536;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "parameters");
  mlp_config(&c); c.hidden_sizes[1] = 65536; c.n_outputs = 100000;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "head");
  mlp_config(&c); c.reserved3 = 1;
  assert_error(maml_create(&c, &m), MAML_E_UNSUPPORTED, "reserved3");
  assert_null(m);
}

static void test_train_adapt_predict(void** state) {
  maml_config c;
  maml_model* m = NULL;
  maml_model* back = NULL;
  maml_learner* l = BOGUS_LEARNER;
  maml_learner* l2 = NULL;
  maml_metrics mt;
  reg_batch r;
  float values[R_QUERY * R_OUT], again[R_QUERY * R_OUT];
  double mse_before = 0, mse_after = 0;
  int32_t width = 0, labels[R_QUERY];
  void* data = NULL;
  size_t size = 0;
  int i;
  (void)state;
  mlp_config(&c);
  assert_ok(maml_create(&c, &m));
  make_reg_batch(&r, 11);
  memset(&mt, 0, sizeof mt);
  mt.struct_size = sizeof mt;
  assert_ok(maml_meta_train_step(m, &r.t, &mt));
  assert_true(isnan(mt.accuracy)); /* not applicable */
  assert_true(isfinite(mt.loss) && mt.loss > 0);
  assert_ok(maml_evaluate(m, &r.t, &mt));
  assert_true(isnan(mt.accuracy));

  /* Adaptation descends the support MSE: against the same model with zero inner rates (the
     same seed gives the same weights), whose "adaptation" keeps the meta-weights. */
  {
    maml_config z;
    maml_model* fresh = NULL;
    maml_model* frozen = NULL;
    maml_learner* a = NULL;
    maml_learner* f = NULL;
    const float* sx = r.sx + R_SUPPORT * R_IN;
    const float* st = r.st + R_SUPPORT * R_OUT;
    float pa[R_SUPPORT * R_OUT], pf[R_SUPPORT * R_OUT];
    mlp_config(&z);
    assert_ok(maml_create(&z, &fresh));
    z.inner_lr = 0.0f;
    z.learn_inner_lr = 0;
    assert_ok(maml_create(&z, &frozen));
    assert_ok(maml_adapt_regression(fresh, sx, st, R_SUPPORT, &a));
    assert_ok(maml_adapt_regression(frozen, sx, st, R_SUPPORT, &f));
    assert_ok(maml_predict(a, sx, R_SUPPORT, pa, NULL));
    assert_ok(maml_predict(f, sx, R_SUPPORT, pf, NULL));
    for (i = 0; i < R_SUPPORT * R_OUT; ++i) {
      mse_after += (pa[i] - st[i]) * (pa[i] - st[i]) / (R_SUPPORT * R_OUT);
      mse_before += (pf[i] - st[i]) * (pf[i] - st[i]) / (R_SUPPORT * R_OUT);
    }
    assert_true(mse_after < 0.9 * mse_before);
    maml_learner_free(a);
    maml_learner_free(f);
    maml_free(fresh);
    maml_free(frozen);
  }
  assert_ok(maml_adapt_regression(m, r.sx + R_SUPPORT * R_IN, r.st + R_SUPPORT * R_OUT, R_SUPPORT, &l));
  assert_ok(maml_learner_n_way(l, &width));
  assert_int_equal(width, R_OUT);
  assert_ok(maml_predict(l, r.qx + R_QUERY * R_IN, R_QUERY, values, NULL));
  assert_error(maml_predict(l, r.qx, R_QUERY, values, labels), MAML_E_INVALID_ARGUMENT, "labels");

  /* Save and reload: identical predictions. */
  assert_ok(maml_save_buffer(m, &data, &size));
  assert_ok(maml_load_buffer(data, size, MAML_DEVICE_CPU, 0, &back));
  maml_buffer_free(data);
  assert_ok(maml_adapt_regression(back, r.sx + R_SUPPORT * R_IN, r.st + R_SUPPORT * R_OUT, R_SUPPORT, &l2));
  assert_ok(maml_predict(l2, r.qx + R_QUERY * R_IN, R_QUERY, again, NULL));
  assert_memory_equal(values, again, sizeof values);
  maml_learner_free(l2);
  maml_learner_free(l);
  maml_free(back);
  maml_free(m);
}

static void test_refusals_change_nothing(void** state) {
  maml_config c;
  maml_model* reg = NULL;
  maml_model* cls = NULL;
  maml_learner* l = BOGUS_LEARNER;
  maml_metrics mt;
  reg_batch r;
  snapshot s;
  int32_t fake_labels[R_TASKS * R_SUPPORT] = {0};
  test_batch b;
  (void)state;
  mlp_config(&c);
  assert_ok(maml_create(&c, &reg));
  make_reg_batch(&r, 3);
  s = take_snapshot(reg);
  memset(&mt, 0, sizeof mt);
  mt.struct_size = sizeof mt;

  /* Labels for a regression model. */
  r.t.support_y = fake_labels;
  assert_error(maml_meta_train_step(reg, &r.t, &mt), MAML_E_INVALID_ARGUMENT, "regression");
  r.t.support_t = NULL;
  assert_error(maml_meta_train_step(reg, &r.t, &mt), MAML_E_INVALID_ARGUMENT, "support_t");
  make_reg_batch(&r, 3);
  r.t.query_t = NULL;
  assert_error(maml_evaluate(reg, &r.t, &mt), MAML_E_INVALID_ARGUMENT, "query_t");
  make_reg_batch(&r, 3);
  /* Non-finite targets, last element of each array. */
  r.st[R_TASKS * R_SUPPORT * R_OUT - 1] = NAN;
  assert_error(maml_meta_train_step(reg, &r.t, &mt), MAML_E_NUMERICAL, "support_t");
  make_reg_batch(&r, 3);
  r.qt[R_TASKS * R_QUERY * R_OUT - 1] = INFINITY;
  assert_error(maml_meta_train_step(reg, &r.t, &mt), MAML_E_NUMERICAL, "query_t");
  make_reg_batch(&r, 3);
  assert_error(maml_adapt(reg, r.sx, fake_labels, R_SUPPORT, &l), MAML_E_INVALID_ARGUMENT, "maml_adapt_regression");
  assert_null(l);
  l = BOGUS_LEARNER;
  assert_error(maml_adapt_regression(reg, r.sx, NULL, R_SUPPORT, &l), MAML_E_INVALID_ARGUMENT, "support_t");
  assert_null(l);
  r.st[0] = NAN;
  l = BOGUS_LEARNER;
  assert_error(maml_adapt_regression(reg, r.sx, r.st, R_SUPPORT, &l), MAML_E_NUMERICAL, "support_t");
  assert_null(l);
  assert_true(snapshot_equals(reg, &s));
  free_snapshot(&s);

  /* Targets for a classifier. */
  cls = new_small_model();
  s = take_snapshot(cls);
  b = make_batch(2, 1, 1, 9);
  b.t.support_t = r.st;
  assert_error(maml_meta_train_step(cls, &b.t, &mt), MAML_E_INVALID_ARGUMENT, "classifier");
  b.t.support_t = NULL;
  b.t.query_t = r.qt;
  assert_error(maml_evaluate(cls, &b.t, &mt), MAML_E_INVALID_ARGUMENT, "classifier");
  l = BOGUS_LEARNER;
  assert_error(maml_adapt_regression(cls, b.support_x, r.st, b.t.support_size, &l), MAML_E_INVALID_ARGUMENT,
               "classifier");
  assert_null(l);
  assert_true(snapshot_equals(cls, &s));
  free_snapshot(&s);
  free_batch(&b);
  maml_free(cls);
  maml_free(reg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_fields),
      cmocka_unit_test(test_train_adapt_predict),
      cmocka_unit_test(test_refusals_change_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
