/*
 * Models: maml_create and config validation, the model queries (config, step, device, parameter
 * count, the LSLR table), maml_meta_train_step and maml_evaluate with every error path, and the
 * promise that a failed call changes nothing.
 */
#include "test_util.h"

/* ---- maml_create ------------------------------------------------------------------------- */

static void test_create_null_arguments(void** state) {
  maml_config c;
  maml_model* m = BOGUS_MODEL;
  (void)state;
  small_config(&c);
  assert_error(maml_create(NULL, &m), MAML_E_INVALID_ARGUMENT, "cfg");
  assert_null(m);
  assert_error(maml_create(&c, NULL), MAML_E_INVALID_ARGUMENT, "out");
  assert_error(maml_create(NULL, NULL), MAML_E_INVALID_ARGUMENT, NULL);
}

/* A config change that maml_create must refuse with `status`, naming `needle`. */
typedef struct bad_config {
  const char* what;
  void (*mutate)(maml_config*);
  maml_status status;
  const char* needle;
} bad_config;

static void zero_stages(maml_config* c) { c->num_stages = 0; }
static void negative_stages(maml_config* c) { c->num_stages = -1; }
static void too_many_stages(maml_config* c) { c->num_stages = 17; }
static void image_too_small(maml_config* c) { c->num_stages = 4; c->image_height = c->image_width = 8; }
static void narrow_image_too_small(maml_config* c) { c->num_stages = 3; c->image_width = 4; }
static void unknown_device(maml_config* c) { c->device_type = 7; }
static void negative_device(maml_config* c) { c->device_type = -1; }
static void negative_device_index(maml_config* c) { c->device_index = -1; }
static void bn_stats_low(maml_config* c) { c->bn_stats = -1; }
static void bn_stats_high(maml_config* c) { c->bn_stats = 3; }
static void one_way(maml_config* c) { c->n_way = 1; }
static void zero_way(maml_config* c) { c->n_way = 0; }
static void zero_channels(maml_config* c) { c->image_channels = 0; }
static void zero_height(maml_config* c) { c->image_height = 0; }
static void negative_width(maml_config* c) { c->image_width = -28; }
static void zero_filters(maml_config* c) { c->num_filters = 0; }
static void zero_inner_steps(maml_config* c) { c->inner_steps = 0; }
static void zero_eval_steps(maml_config* c) { c->eval_inner_steps = 0; }
static void nan_inner_lr(maml_config* c) { c->inner_lr = NAN; }
static void inf_inner_lr(maml_config* c) { c->inner_lr = INFINITY; }
static void zero_meta_lr(maml_config* c) { c->meta_lr = 0.0f; }
static void nan_meta_lr(maml_config* c) { c->meta_lr = NAN; }
static void meta_lr_min_above(maml_config* c) { c->meta_lr_min = c->meta_lr * 2.0f; }
static void beta1_one(maml_config* c) { c->adam_beta1 = 1.0f; }
static void beta2_negative(maml_config* c) { c->adam_beta2 = -0.5f; }
static void negative_clip(maml_config* c) { c->grad_clip = -1.0f; }
static void zero_epochs(maml_config* c) { c->epochs = 0; }
static void zero_iters(maml_config* c) { c->iters_per_epoch = 0; }
static void negative_msl_epochs(maml_config* c) { c->msl_epochs = -1; }
static void negative_fo_epochs(maml_config* c) { c->first_order_epochs = -1; }
static void bad_batching(maml_config* c) { c->task_batching = 3; }
static void negative_threads(maml_config* c) { c->num_threads = -1; }
static void bad_dtype(maml_config* c) { c->dtype = 2; }
static void struct_size_zero(maml_config* c) { c->struct_size = 0; }
static void struct_size_small(maml_config* c) { c->struct_size = (uint32_t)offsetof(maml_config, seed); }

static const bad_config k_bad_configs[] = {
    {"zero stages", zero_stages, MAML_E_INVALID_ARGUMENT, "num_stages"},
    {"negative stages", negative_stages, MAML_E_INVALID_ARGUMENT, "num_stages"},
    {"17 stages", too_many_stages, MAML_E_INVALID_ARGUMENT, "num_stages"},
    {"8x8 image, 4 stages", image_too_small, MAML_E_INVALID_ARGUMENT, "too small"},
    {"14x4 image, 3 stages", narrow_image_too_small, MAML_E_INVALID_ARGUMENT, "too small"},
    {"device_type 7", unknown_device, MAML_E_INVALID_ARGUMENT, "device_type"},
    {"device_type -1", negative_device, MAML_E_INVALID_ARGUMENT, "device_type"},
    {"device_index -1", negative_device_index, MAML_E_INVALID_ARGUMENT, "device_index"},
    {"bn_stats -1", bn_stats_low, MAML_E_INVALID_ARGUMENT, "bn_stats"},
    {"bn_stats 3", bn_stats_high, MAML_E_INVALID_ARGUMENT, "bn_stats"},
    {"n_way 1", one_way, MAML_E_INVALID_ARGUMENT, "n_way"},
    {"n_way 0", zero_way, MAML_E_INVALID_ARGUMENT, "n_way"},
    {"0 channels", zero_channels, MAML_E_INVALID_ARGUMENT, "image_channels"},
    {"height 0", zero_height, MAML_E_INVALID_ARGUMENT, "image_height"},
    {"width -28", negative_width, MAML_E_INVALID_ARGUMENT, "image_width"},
    {"0 filters", zero_filters, MAML_E_INVALID_ARGUMENT, "num_filters"},
    {"0 inner steps", zero_inner_steps, MAML_E_INVALID_ARGUMENT, "inner_steps"},
    {"0 eval steps", zero_eval_steps, MAML_E_INVALID_ARGUMENT, "eval_inner_steps"},
    {"NaN inner_lr", nan_inner_lr, MAML_E_INVALID_ARGUMENT, "inner_lr"},
    {"Inf inner_lr", inf_inner_lr, MAML_E_INVALID_ARGUMENT, "inner_lr"},
    {"meta_lr 0", zero_meta_lr, MAML_E_INVALID_ARGUMENT, "meta_lr"},
    {"NaN meta_lr", nan_meta_lr, MAML_E_INVALID_ARGUMENT, "meta_lr"},
    {"meta_lr_min > meta_lr", meta_lr_min_above, MAML_E_INVALID_ARGUMENT, "meta_lr_min"},
    {"adam_beta1 1", beta1_one, MAML_E_INVALID_ARGUMENT, "adam_beta1"},
    {"adam_beta2 -0.5", beta2_negative, MAML_E_INVALID_ARGUMENT, "adam_beta2"},
    {"grad_clip -1", negative_clip, MAML_E_INVALID_ARGUMENT, "grad_clip"},
    {"0 epochs", zero_epochs, MAML_E_INVALID_ARGUMENT, "epochs"},
    {"0 iters_per_epoch", zero_iters, MAML_E_INVALID_ARGUMENT, "iters_per_epoch"},
    {"msl_epochs -1", negative_msl_epochs, MAML_E_INVALID_ARGUMENT, "msl_epochs"},
    {"first_order_epochs -1", negative_fo_epochs, MAML_E_INVALID_ARGUMENT, "first_order_epochs"},
    {"task_batching 3", bad_batching, MAML_E_INVALID_ARGUMENT, "task_batching"},
    {"num_threads -1", negative_threads, MAML_E_INVALID_ARGUMENT, "num_threads"},
    {"dtype 2", bad_dtype, MAML_E_INVALID_ARGUMENT, "dtype"},
    {"struct_size 0", struct_size_zero, MAML_E_INVALID_ARGUMENT, "struct_size"},
    {"struct_size too small", struct_size_small, MAML_E_INVALID_ARGUMENT, "struct_size"},
};

static void test_create_rejects_nonsense_configs(void** state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof k_bad_configs / sizeof k_bad_configs[0]; ++i) {
    const bad_config* b = &k_bad_configs[i];
    maml_config c;
    maml_model* m = BOGUS_MODEL;
    maml_status s;
    small_config(&c);
    b->mutate(&c);
    s = maml_create(&c, &m);
    if (s != b->status)
      fail_msg("config \"%s\": maml_create returned %s, expected %s (%s)", b->what,
               maml_status_string(s), maml_status_string(b->status), maml_last_error());
    if (m != NULL) fail_msg("config \"%s\": *out was not set to NULL", b->what);
    if (strstr(maml_last_error(), b->needle) == NULL)
      fail_msg("config \"%s\": message \"%s\" does not mention \"%s\"", b->what,
               maml_last_error(), b->needle);
  }
}

/* A newer caller's larger struct: zero trailing bytes are fine, non-zero ones are refused. */
typedef struct newer_config {
  maml_config base;
  int32_t future_field;
  int32_t another;
} newer_config;

static void test_create_larger_struct(void** state) {
  newer_config n;
  maml_model* m = BOGUS_MODEL;
  (void)state;
  memset(&n, 0, sizeof n);
  small_config(&n.base);
  n.base.struct_size = sizeof n;
  m = new_model(&n.base);
  maml_free(m);

  n.another = 1;
  m = BOGUS_MODEL;
  assert_error(maml_create(&n.base, &m), MAML_E_UNSUPPORTED, "cfg");
  assert_null(m);
  n.another = 0;
  n.base.reserved1 = 7; /* a later version's field in today's padding */
  m = BOGUS_MODEL;
  assert_error(maml_create(&n.base, &m), MAML_E_UNSUPPORTED, "reserved");
  assert_null(m);
  n.base.reserved1 = 0;
  n.future_field = -1;
  m = BOGUS_MODEL;
  assert_error(maml_create(&n.base, &m), MAML_E_UNSUPPORTED, "upgrade");
  assert_null(m);
}

static void test_create_cuda_without_gpu(void** state) {
  maml_config c;
  maml_model* m = BOGUS_MODEL;
  (void)state;
  if (maml_cuda_device_count() > 0) {
    /* A GPU is visible: an ordinal past the last one is the device error. */
    small_config(&c);
    c.device_type = MAML_DEVICE_CUDA;
    c.device_index = maml_cuda_device_count();
    assert_error(maml_create(&c, &m), MAML_E_DEVICE, "CUDA");
    assert_null(m);
    skip();
  }
  small_config(&c);
  c.device_type = MAML_DEVICE_CUDA;
  assert_error(maml_create(&c, &m), MAML_E_DEVICE, "CUDA");
  assert_null(m);
  /* AUTO falls back to the CPU. */
  c.device_type = MAML_DEVICE_AUTO;
  m = new_model(&c);
  {
    int32_t type = -1, index = -1;
    assert_ok(maml_get_device(m, &type, &index));
    assert_int_equal(type, MAML_DEVICE_CPU);
    assert_int_equal(index, 0);
  }
  maml_free(m);
}

/* maml_cuda_memory: argument and device errors everywhere; on a GPU (scripts/gpu-check.sh), the
 * counters follow a model's allocations, a training step's peak and a reset. */
static void test_cuda_memory(void** state) {
  int64_t current = -7, peak = -7, before = 0, after_create = 0, after_free = 0;
  maml_config c;
  maml_model* m;
  test_batch b;
  (void)state;
  assert_error(maml_cuda_memory(-1, 0, &current, &peak), MAML_E_INVALID_ARGUMENT, "device_index");
  assert_error(maml_cuda_memory(maml_cuda_device_count(), 0, &current, &peak), MAML_E_DEVICE, "CUDA");
  assert_true(current == -7 && peak == -7); /* outputs untouched on error */
  skip_without_gpu();

  assert_ok(maml_cuda_memory(0, 1, NULL, NULL)); /* NULL outputs are allowed */
  assert_ok(maml_cuda_memory(0, 1, &before, NULL));
  small_config(&c);
  c.device_type = MAML_DEVICE_CUDA;
  m = new_model(&c);
  assert_ok(maml_cuda_memory(0, 0, &after_create, &peak));
  assert_true(after_create > before); /* the meta-parameters and Adam moments live on the GPU */
  assert_true(peak >= after_create);

  /* A second-order step holds its graph, well above what stays allocated afterwards. */
  b = make_batch(2, 1, 2, 21);
  assert_ok(maml_cuda_memory(0, 1, NULL, NULL));
  assert_ok(maml_meta_train_step(m, &b.t, NULL));
  assert_ok(maml_cuda_memory(0, 0, &current, &peak));
  assert_true(peak > current);
  assert_true(peak > after_create);
  /* A reset starts the window at the current level. */
  assert_ok(maml_cuda_memory(0, 1, NULL, NULL));
  assert_ok(maml_cuda_memory(0, 0, &current, &peak));
  assert_true(peak == current);
  free_batch(&b);
  maml_free(m);
  assert_ok(maml_cuda_memory(0, 0, &after_free, NULL));
  assert_true(after_free < after_create);
}

/* ---- queries -------------------------------------------------------------------------------- */

static void test_get_config_round_trip(void** state) {
  maml_config c, got;
  maml_model* m;
  unsigned char big[sizeof(maml_config) + 16];
  maml_config* bigc = (maml_config*)(void*)big;
  size_t i;
  (void)state;
  small_config(&c);
  c.max_pool = 1;
  c.inner_lr = 0.25f;
  c.learn_inner_lr = 0;
  c.bn_stats = MAML_BN_SUPPORT;
  c.multi_step_loss = 0;
  c.msl_epochs = 3;
  c.first_order_epochs = 4;
  c.meta_lr = 0.005f;
  c.meta_lr_min = 0.0001f;
  c.adam_beta1 = 0.8f;
  c.adam_beta2 = 0.95f;
  c.grad_clip = 10.0f;
  c.epochs = 7;
  c.iters_per_epoch = 9;
  c.seed = 0xFEEDFACECAFEBEEFull;
  c.task_batching = MAML_TASKS_LOOP;
  c.num_threads = 2;
  m = new_model(&c);

  memset(&got, 0x5A, sizeof got);
  got.struct_size = sizeof got;
  assert_ok(maml_get_config(m, &got));
  assert_no_error();
  assert_int_equal(got.struct_size, sizeof got);
#define SAME(f) assert_true(got.f == c.f)
  SAME(n_way); SAME(image_channels); SAME(image_height); SAME(image_width); SAME(num_stages);
  SAME(num_filters); SAME(max_pool); SAME(inner_steps); SAME(eval_inner_steps); SAME(inner_lr);
  SAME(learn_inner_lr); SAME(per_step_bn); SAME(bn_stats); SAME(multi_step_loss);
  SAME(msl_epochs); SAME(second_order); SAME(first_order_epochs); SAME(meta_lr);
  SAME(meta_lr_min); SAME(adam_beta1); SAME(adam_beta2); SAME(grad_clip); SAME(epochs);
  SAME(iters_per_epoch); SAME(device_type); SAME(device_index); SAME(seed); SAME(task_batching);
  SAME(num_threads); SAME(dtype);
#undef SAME

  /* Errors: NULL model, NULL out, a struct_size that is too small (out left untouched). */
  assert_error(maml_get_config(NULL, &got), MAML_E_INVALID_ARGUMENT, "model");
  assert_error(maml_get_config(m, NULL), MAML_E_INVALID_ARGUMENT, "out");
  memset(&got, 0x77, sizeof got);
  got.struct_size = 8;
  assert_error(maml_get_config(m, &got), MAML_E_INVALID_ARGUMENT, "struct_size");
  assert_int_equal(got.struct_size, 8);
  assert_int_equal(got.n_way, 0x77777777);

  /* A larger struct: the known part is filled, the unknown tail zeroed, struct_size kept. */
  memset(big, 0xEE, sizeof big);
  bigc->struct_size = sizeof big;
  assert_ok(maml_get_config(m, bigc));
  assert_int_equal(bigc->struct_size, sizeof big);
  assert_int_equal(bigc->n_way, c.n_way);
  assert_true(bigc->seed == c.seed);
  for (i = sizeof(maml_config); i < sizeof big; ++i) assert_int_equal(big[i], 0);
  maml_free(m);
}

static void test_model_queries(void** state) {
  maml_model* m = new_small_model();
  int64_t step = -1, params = -1;
  int32_t type = -1, index = -1;
  (void)state;
  assert_ok(maml_get_step(m, &step));
  assert_int_equal(step, 0);
  assert_error(maml_get_step(NULL, &step), MAML_E_INVALID_ARGUMENT, "model");
  assert_error(maml_get_step(m, NULL), MAML_E_INVALID_ARGUMENT, "out");

  assert_ok(maml_get_device(m, &type, &index));
  assert_int_equal(type, MAML_DEVICE_CPU);
  assert_int_equal(index, 0);
  assert_ok(maml_get_device(m, NULL, NULL)); /* either pointer may be NULL */
  assert_ok(maml_get_device(m, &type, NULL));
  assert_ok(maml_get_device(m, NULL, &index));
  assert_error(maml_get_device(NULL, &type, &index), MAML_E_INVALID_ARGUMENT, "model");

  assert_ok(maml_num_parameters(m, &params));
  /* conv weights and biases (1->8, 8->8), the head (8*3*3 -> 3), BN rows, inner rates: more than
   * the two convs and the head alone. */
  assert_true(params > (8 * 1 * 9 + 8) + (8 * 8 * 9 + 8) + (8 * 3 * 3 * T_WAY + T_WAY));
  assert_error(maml_num_parameters(NULL, &params), MAML_E_INVALID_ARGUMENT, "model");
  assert_error(maml_num_parameters(m, NULL), MAML_E_INVALID_ARGUMENT, "out");
  maml_free(m);
}

/* Two models with the same config and seed start identical; a different seed differs. */
static void test_create_is_deterministic(void** state) {
  maml_config c;
  maml_model *a, *b, *d;
  snapshot sa, sd;
  (void)state;
  small_config(&c);
  a = new_model(&c);
  b = new_model(&c);
  c.seed += 1;
  d = new_model(&c);
  sa = take_snapshot(a);
  sd = take_snapshot(d);
  assert_true(snapshot_equals(b, &sa));
  assert_false(sa.size == sd.size && memcmp(sa.data, sd.data, sa.size) == 0);
  free_snapshot(&sa);
  free_snapshot(&sd);
  maml_free(a);
  maml_free(b);
  maml_free(d);
}

/* ---- the LSLR table ------------------------------------------------------------------------- */

/* ANIL (1.2): adapt_last_layers = 1 adapts only the head; the rate table has its two rows, the
 * field survives a file, and a count beyond the layers is refused naming the field. */
static void test_head_only_adaptation(void** state) {
  maml_config c, back;
  maml_model *m, *loaded = BOGUS_MODEL;
  maml_learner *la = NULL, *lb = NULL;
  int32_t tensors = -1, steps = -1;
  const char* name = NULL;
  void* buf = NULL;
  size_t size = 0;
  float pa[2 * T_WAY], pb[2 * T_WAY];
  int i;
  test_batch b = make_batch(2, 1, 2, 17);
  (void)state;
  small_config(&c);
  c.adapt_last_layers = c.num_stages + 2; /* 4 layers of a 3-layer model */
  m = BOGUS_MODEL;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "adapt_last_layers");
  assert_null(m);
  c.adapt_last_layers = -1;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "adapt_last_layers");
  c.adapt_last_layers = 1;
  m = new_model(&c);
  assert_ok(maml_inner_lr_shape(m, &tensors, &steps));
  assert_int_equal(tensors, 2);
  assert_ok(maml_inner_lr_name(m, 0, &name));
  assert_string_equal(name, "backbone.head.weight");
  assert_ok(maml_inner_lr_name(m, 1, &name));
  assert_string_equal(name, "backbone.head.bias");
  assert_error(maml_inner_lr_name(m, 2, &name), MAML_E_INVALID_ARGUMENT, "index");
  assert_ok(maml_meta_train_step(m, &b.t, NULL));
  assert_ok(maml_save_buffer(m, &buf, &size));
  assert_ok(maml_load_buffer(buf, size, MAML_DEVICE_CPU, 0, &loaded));
  maml_buffer_free(buf);
  back.struct_size = sizeof back;
  assert_ok(maml_get_config(loaded, &back));
  assert_int_equal(back.adapt_last_layers, 1);
  assert_ok(maml_adapt(m, b.support_x, b.support_y, T_WAY, &la));
  assert_ok(maml_adapt(loaded, b.support_x, b.support_y, T_WAY, &lb));
  assert_ok(maml_predict(la, b.query_x, 2, pa, NULL));
  assert_ok(maml_predict(lb, b.query_x, 2, pb, NULL));
  for (i = 0; i < 2 * T_WAY; ++i) assert_true(pa[i] == pb[i]);
  maml_learner_free(la);
  maml_learner_free(lb);
  maml_free(loaded);
  maml_free(m);
  free_batch(&b);
}

static void test_inner_lr_table(void** state) {
  maml_config c;
  maml_model* m;
  int32_t tensors = -1, steps = -1, i;
  float* rates;
  const char* name = "unset";
  test_batch b = make_batch(2, 1, 2, 11);
  (void)state;
  small_config(&c);
  c.inner_lr = 0.125f;
  c.inner_steps = 3;
  m = new_model(&c);

  assert_ok(maml_inner_lr_shape(m, &tensors, &steps));
  /* weight and bias of each conv stage and of the head */
  assert_int_equal(tensors, 2 * c.num_stages + 2);
  assert_int_equal(steps, 3);
  assert_ok(maml_inner_lr_shape(m, NULL, NULL));
  assert_ok(maml_inner_lr_shape(m, &tensors, NULL));
  assert_ok(maml_inner_lr_shape(m, NULL, &steps));
  assert_error(maml_inner_lr_shape(NULL, &tensors, &steps), MAML_E_INVALID_ARGUMENT, "model");

  assert_ok(maml_inner_lr_name(m, 0, &name));
  assert_string_equal(name, "backbone.stage0.conv.weight");
  assert_ok(maml_inner_lr_name(m, 1, &name));
  assert_string_equal(name, "backbone.stage0.conv.bias");
  assert_ok(maml_inner_lr_name(m, 2, &name));
  assert_string_equal(name, "backbone.stage1.conv.weight");
  assert_ok(maml_inner_lr_name(m, tensors - 2, &name));
  assert_string_equal(name, "backbone.head.weight");
  assert_ok(maml_inner_lr_name(m, tensors - 1, &name));
  assert_string_equal(name, "backbone.head.bias");
  name = "unset";
  assert_error(maml_inner_lr_name(m, tensors, &name), MAML_E_INVALID_ARGUMENT, "index");
  assert_null(name);
  name = "unset";
  assert_error(maml_inner_lr_name(m, -1, &name), MAML_E_INVALID_ARGUMENT, "index");
  assert_null(name);
  assert_error(maml_inner_lr_name(m, 0, NULL), MAML_E_INVALID_ARGUMENT, "name");
  assert_error(maml_inner_lr_name(NULL, 0, &name), MAML_E_INVALID_ARGUMENT, "model");

  rates = (float*)malloc(sizeof(float) * (size_t)(tensors * steps + 1));
  assert_non_null(rates);
  for (i = 0; i < tensors * steps + 1; ++i) rates[i] = -1.0f;
  assert_error(maml_get_inner_lrs(m, rates, tensors * steps - 1), MAML_E_INVALID_ARGUMENT, "count");
  assert_error(maml_get_inner_lrs(m, rates, tensors * steps + 1), MAML_E_INVALID_ARGUMENT, "count");
  assert_error(maml_get_inner_lrs(m, rates, 0), MAML_E_INVALID_ARGUMENT, "count");
  assert_error(maml_get_inner_lrs(m, rates, -1), MAML_E_INVALID_ARGUMENT, "count");
  assert_true(rates[0] == -1.0f); /* failed calls wrote nothing */
  assert_error(maml_get_inner_lrs(m, NULL, tensors * steps), MAML_E_INVALID_ARGUMENT, "rates");
  assert_error(maml_get_inner_lrs(NULL, rates, tensors * steps), MAML_E_INVALID_ARGUMENT, "model");
  assert_ok(maml_get_inner_lrs(m, rates, tensors * steps));
  for (i = 0; i < tensors * steps; ++i) assert_true(rates[i] == 0.125f);
  assert_true(rates[tensors * steps] == -1.0f); /* no write past count */

  /* LSLR: a meta-train step moves the rates. */
  assert_ok(maml_meta_train_step(m, &b.t, NULL));
  assert_ok(maml_get_inner_lrs(m, rates, tensors * steps));
  {
    int changed = 0;
    for (i = 0; i < tensors * steps; ++i) {
      assert_true(isfinite(rates[i]));
      if (rates[i] != 0.125f) ++changed;
    }
    assert_true(changed > 0);
  }
  maml_free(m);

  /* Without LSLR every entry stays the fixed inner_lr. */
  c.learn_inner_lr = 0;
  m = new_model(&c);
  assert_ok(maml_meta_train_step(m, &b.t, NULL));
  assert_ok(maml_get_inner_lrs(m, rates, tensors * steps));
  for (i = 0; i < tensors * steps; ++i) assert_true(rates[i] == 0.125f);
  maml_free(m);
  free(rates);
  free_batch(&b);
}

/* ---- meta-training ------------------------------------------------------------------------- */

static void test_meta_train_step(void** state) {
  maml_model* m = new_small_model();
  test_batch b = make_batch(2, 1, 2, 21);
  maml_metrics mt;
  snapshot before;
  int64_t step = -1;
  maml_config c;
  (void)state;
  small_config(&c);
  before = take_snapshot(m);
  memset(&mt, 0, sizeof mt);
  mt.struct_size = sizeof mt;
  assert_ok(maml_meta_train_step(m, &b.t, &mt));
  assert_no_error();
  assert_int_equal(mt.struct_size, sizeof mt);
  assert_true(isfinite(mt.loss) && mt.loss > 0.0f);
  assert_true(mt.accuracy >= 0.0f && mt.accuracy <= 1.0f);
  assert_true(fabsf(mt.meta_lr - c.meta_lr) <= 1e-6f * c.meta_lr + 1e-12f); /* epoch 0 */
  assert_int_equal(mt.second_order, 1); /* first_order_epochs = 0 */
  assert_int_equal(mt.step, 1);
  assert_int_equal(mt.epoch, 0);
  assert_ok(maml_get_step(m, &step));
  assert_int_equal(step, 1);
  assert_false(snapshot_equals(m, &before)); /* the parameters moved */

  /* metrics may be NULL */
  assert_ok(maml_meta_train_step(m, &b.t, NULL));
  assert_ok(maml_get_step(m, &step));
  assert_int_equal(step, 2);
  free_snapshot(&before);
  free_batch(&b);
  maml_free(m);
}

static void test_schedule_in_metrics(void** state) {
  maml_config c;
  maml_model* m;
  test_batch b = make_batch(1, 1, 1, 31);
  maml_metrics mt;
  int i;
  (void)state;
  small_config(&c);
  c.first_order_epochs = 1; /* DA: first order during epoch 0, then second order */
  c.iters_per_epoch = 2;
  c.epochs = 3;
  m = new_model(&c);
  memset(&mt, 0, sizeof mt);
  mt.struct_size = sizeof mt;
  for (i = 1; i <= 5; ++i) {
    assert_ok(maml_meta_train_step(m, &b.t, &mt));
    assert_int_equal(mt.step, i);
    assert_int_equal(mt.epoch, (i - 1) / 2);
    assert_int_equal(mt.second_order, mt.epoch >= 1 ? 1 : 0);
    assert_true(mt.meta_lr <= c.meta_lr && mt.meta_lr >= c.meta_lr_min);
  }
  free_batch(&b);
  maml_free(m);
}

/* Every way a meta-batch can be wrong, for both training and evaluation. */
typedef maml_status (*batch_call)(maml_model*, const maml_tasks*, maml_metrics*);

static void check_batch_errors(batch_call call, const char* name) {
  maml_model* m = new_small_model();
  test_batch b = make_batch(2, 1, 2, 41);
  maml_tasks t;
  maml_metrics mt;
  snapshot before;
  const float nan = NAN, inf = INFINITY;
  float saved_x;
  int32_t saved_y;
  struct {
    maml_tasks t;
    uint64_t future;
  } newer;

  (void)name;
  /* Warm up once so the snapshot includes trained state (Adam moments, step 1). */
  assert_ok(maml_meta_train_step(m, &b.t, NULL));
  before = take_snapshot(m);
  memset(&mt, 0, sizeof mt);
  mt.struct_size = sizeof mt;

#define EXPECT_FAIL(expr, status, needle) \
  do {                                    \
    assert_error(expr, status, needle);   \
    assert_unchanged(m, &before);         \
  } while (0)

  EXPECT_FAIL(call(NULL, &b.t, &mt), MAML_E_INVALID_ARGUMENT, "model");
  EXPECT_FAIL(call(m, NULL, &mt), MAML_E_INVALID_ARGUMENT, "batch");

  t = b.t; t.support_x = NULL;
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "support_x");
  t = b.t; t.support_y = NULL;
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "support_y");
  t = b.t; t.query_x = NULL;
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "query_x");
  t = b.t; t.query_y = NULL;
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "query_y");

  t = b.t; t.num_tasks = 0;
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "num_tasks");
  t = b.t; t.num_tasks = -1;
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "num_tasks");
  t = b.t; t.support_size = 0;
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "support_size");
  t = b.t; t.support_size = -3;
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "support_size");
  t = b.t; t.query_size = 0;
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "query_size");
  t = b.t; t.query_size = -1;
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "query_size");

  t = b.t; t.struct_size = 0;
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "struct_size");
  t = b.t; t.struct_size = 40; /* smaller than the 1.0 struct (48 bytes) */
  EXPECT_FAIL(call(m, &t, &mt), MAML_E_INVALID_ARGUMENT, "struct_size");
  newer.t = b.t;
  newer.t.struct_size = sizeof newer;
  newer.future = 1;
  EXPECT_FAIL(call(m, &newer.t, &mt), MAML_E_UNSUPPORTED, "batch");

  /* Labels outside [0, n_way): negative and == n_way, in the last element of each array. */
  saved_y = b.support_y[b.t.num_tasks * b.t.support_size - 1];
  b.support_y[b.t.num_tasks * b.t.support_size - 1] = -1;
  EXPECT_FAIL(call(m, &b.t, &mt), MAML_E_INVALID_ARGUMENT, "support_y");
  b.support_y[b.t.num_tasks * b.t.support_size - 1] = T_WAY;
  EXPECT_FAIL(call(m, &b.t, &mt), MAML_E_INVALID_ARGUMENT, "support_y");
  b.support_y[b.t.num_tasks * b.t.support_size - 1] = saved_y;
  saved_y = b.query_y[b.t.num_tasks * b.t.query_size - 1];
  b.query_y[b.t.num_tasks * b.t.query_size - 1] = -1;
  EXPECT_FAIL(call(m, &b.t, &mt), MAML_E_INVALID_ARGUMENT, "query_y");
  b.query_y[b.t.num_tasks * b.t.query_size - 1] = T_WAY;
  EXPECT_FAIL(call(m, &b.t, &mt), MAML_E_INVALID_ARGUMENT, "query_y");
  b.query_y[b.t.num_tasks * b.t.query_size - 1] = saved_y;

  /* NaN and Inf pixels, in the last pixel of each array. */
  {
    const size_t last_s = (size_t)(b.t.num_tasks * b.t.support_size * T_PIXELS) - 1;
    const size_t last_q = (size_t)(b.t.num_tasks * b.t.query_size * T_PIXELS) - 1;
    saved_x = b.support_x[last_s];
    b.support_x[last_s] = nan;
    EXPECT_FAIL(call(m, &b.t, &mt), MAML_E_NUMERICAL, "support_x");
    b.support_x[last_s] = inf;
    EXPECT_FAIL(call(m, &b.t, &mt), MAML_E_NUMERICAL, "support_x");
    b.support_x[last_s] = -inf;
    EXPECT_FAIL(call(m, &b.t, &mt), MAML_E_NUMERICAL, "support_x");
    b.support_x[last_s] = saved_x;
    saved_x = b.query_x[0];
    b.query_x[0] = nan;
    EXPECT_FAIL(call(m, &b.t, &mt), MAML_E_NUMERICAL, "query_x");
    b.query_x[0] = saved_x;
    saved_x = b.query_x[last_q];
    b.query_x[last_q] = inf;
    EXPECT_FAIL(call(m, &b.t, &mt), MAML_E_NUMERICAL, "query_x");
    b.query_x[last_q] = saved_x;
  }

  /* Metrics with a struct_size too small to hold anything useful. */
  mt.struct_size = 0;
  EXPECT_FAIL(call(m, &b.t, &mt), MAML_E_INVALID_ARGUMENT, "struct_size");
  mt.struct_size = sizeof mt;
#undef EXPECT_FAIL

  free_snapshot(&before);
  free_batch(&b);
  maml_free(m);
}

static maml_status evaluate_call(maml_model* m, const maml_tasks* b, maml_metrics* mt) {
  return maml_evaluate(m, b, mt);
}

static void test_meta_train_step_errors(void** state) {
  (void)state;
  check_batch_errors(maml_meta_train_step, "maml_meta_train_step");
}

static void test_evaluate_errors(void** state) {
  maml_model* m = new_small_model();
  test_batch b = make_batch(1, 1, 1, 43);
  (void)state;
  check_batch_errors(evaluate_call, "maml_evaluate");
  /* maml_evaluate's only output is its metrics: NULL is refused. */
  assert_error(maml_evaluate(m, &b.t, NULL), MAML_E_INVALID_ARGUMENT, "metrics");
  free_batch(&b);
  maml_free(m);
}

static void test_evaluate_changes_nothing(void** state) {
  maml_model* m = new_small_model();
  test_batch b = make_batch(3, 2, 2, 51);
  maml_metrics a, c;
  snapshot before;
  (void)state;
  assert_ok(maml_meta_train_step(m, &b.t, NULL));
  before = take_snapshot(m);
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  c = a;
  assert_ok(maml_evaluate(m, &b.t, &a));
  assert_no_error();
  assert_unchanged(m, &before);
  assert_true(isfinite(a.loss) && a.loss > 0.0f);
  assert_true(a.accuracy >= 0.0f && a.accuracy <= 1.0f);
  assert_int_equal(a.step, 1); /* steps completed: evaluation takes none */
  /* Deterministic: the same batch gives the same numbers. */
  assert_ok(maml_evaluate(m, &b.t, &c));
  assert_true(a.loss == c.loss && a.accuracy == c.accuracy);
  free_snapshot(&before);
  free_batch(&b);
  maml_free(m);
}

/* Finite inputs so large the first convolution overflows float32: the loss is not finite, the
 * step is rejected and nothing moves. */
static void test_non_finite_step_rejected(void** state) {
  maml_config c;
  maml_model* m;
  test_batch b = make_batch(2, 1, 2, 61);
  snapshot before;
  maml_metrics mt;
  int64_t step = -1;
  size_t i;
  (void)state;
  small_config(&c);
  m = new_model(&c);
  for (i = 0; i < (size_t)(2 * b.t.support_size * T_PIXELS); ++i) b.support_x[i] = 3e38f;
  before = take_snapshot(m);
  memset(&mt, 0, sizeof mt);
  mt.struct_size = sizeof mt;
  mt.loss = 42.0f;
  assert_error(maml_meta_train_step(m, &b.t, &mt), MAML_E_NUMERICAL, NULL);
  assert_true(mt.loss == 42.0f); /* metrics untouched on failure */
  assert_ok(maml_get_step(m, &step));
  assert_int_equal(step, 0);
  assert_unchanged(m, &before);
  /* Still refused the second time (nothing half-applied made it pass). */
  assert_error(maml_meta_train_step(m, &b.t, NULL), MAML_E_NUMERICAL, NULL);
  assert_unchanged(m, &before);
  free_snapshot(&before);
  free_batch(&b);
  maml_free(m);
}

/* Configs no machine could hold are refused by maml_create, naming the field to lower, before
 * anything is allocated: 16 stages of 4,096 filters without pooling (about 2.3 billion
 * parameters, 9 GB), and an 8192x8192 image through 2,048 filters (hundreds of GB of
 * activations per example). */
static void test_create_refuses_models_too_large(void** state) {
  maml_config c;
  maml_model* m = BOGUS_MODEL;
  (void)state;
  small_config(&c);
  c.num_stages = 16;
  c.num_filters = 4096;
  c.max_pool = 0;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "parameters");
  check_last_error_("maml_create", "num_filters");
  assert_null(m);
  small_config(&c);
  c.num_stages = 1;
  c.num_filters = 2048;
  c.max_pool = 0;
  c.image_height = c.image_width = 8192;
  m = BOGUS_MODEL;
  assert_error(maml_create(&c, &m), MAML_E_INVALID_ARGUMENT, "activations");
  check_last_error_("maml_create", "image_height");
  assert_null(m);
}

/* meta_lr = 1e38: the Adam step size meta_lr / (1 - beta1) overflows float32. Whether
 * maml_create accepts such a meta_lr is the config's rule; a step must never half-apply it
 * (it used to change the Adam moments before failing with MAML_E_INTERNAL). */
static void test_huge_meta_lr_changes_nothing(void** state) {
  maml_config c;
  maml_model* m = BOGUS_MODEL;
  test_batch b = make_batch(2, 1, 1, 81);
  snapshot before;
  maml_status s;
  (void)state;
  small_config(&c);
  c.meta_lr = 1e38f;
  c.meta_lr_min = 0.0f;
  s = maml_create(&c, &m);
  if (s != MAML_OK) {
    assert_int_equal(s, MAML_E_INVALID_ARGUMENT);
    check_last_error_("maml_create", "meta_lr");
    free_batch(&b);
    return;
  }
  before = take_snapshot(m);
  assert_error(maml_meta_train_step(m, &b.t, NULL), MAML_E_NUMERICAL, "meta_lr");
  assert_unchanged(m, &before);
  assert_error(maml_meta_train_step(m, &b.t, NULL), MAML_E_NUMERICAL, "meta_lr");
  assert_unchanged(m, &before);
  free_snapshot(&before);
  free_batch(&b);
  maml_free(m);
}

/* A copy of a saved model whose metadata "step" is `step` (the header's JSON edited). */
static void* with_step(const void* file, size_t size, const char* step, size_t* out_size) {
  const unsigned char* in = (const unsigned char*)file;
  const char* key = "\"step\":\"";
  uint64_t n = 0;
  size_t i, at, end, out_n;
  unsigned char* out;
  for (i = 0; i < 8; ++i) n |= (uint64_t)in[i] << (8 * i);
  for (at = 8; at + strlen(key) < 8 + n && memcmp(in + at, key, strlen(key)) != 0; ++at) {}
  assert_true(at + strlen(key) < 8 + n);
  at += strlen(key);
  for (end = at; in[end] != '"'; ++end) {}
  out_n = n - (end - at) + strlen(step);
  *out_size = size - n + out_n;
  out = (unsigned char*)malloc(*out_size);
  assert_non_null(out);
  for (i = 0; i < 8; ++i) out[i] = (unsigned char)(out_n >> (8 * i));
  memcpy(out + 8, in + 8, at - 8);
  memcpy(out + at, step, strlen(step));
  memcpy(out + at + strlen(step), in + end, size - end);
  return out;
}

/* The step counter at its limit: loadable, but a further step is refused and changes nothing.
 * A counter beyond int64 is refused by the loader. */
static void test_step_counter_limits(void** state) {
  maml_model* fresh = new_small_model();
  maml_model* m = BOGUS_MODEL;
  test_batch b = make_batch(2, 1, 1, 91);
  void* buf = NULL;
  void* edited;
  size_t size = 0, edited_size = 0;
  int64_t step = 0;
  snapshot before;
  (void)state;
  assert_ok(maml_save_buffer(fresh, &buf, &size));
  edited = with_step(buf, size, "9223372036854775807", &edited_size);
  assert_ok(maml_load_buffer(edited, edited_size, MAML_DEVICE_CPU, 0, &m));
  assert_ok(maml_get_step(m, &step));
  assert_true(step == INT64_MAX);
  before = take_snapshot(m);
  assert_error(maml_meta_train_step(m, &b.t, NULL), MAML_E_UNSUPPORTED, "step counter");
  assert_unchanged(m, &before);
  free(edited);
  maml_free(m);
  edited = with_step(buf, size, "9223372036854775808", &edited_size);
  m = BOGUS_MODEL;
  assert_error(maml_load_buffer(edited, edited_size, MAML_DEVICE_CPU, 0, &m), MAML_E_FORMAT, "step");
  assert_null(m);
  free(edited);
  free_snapshot(&before);
  maml_buffer_free(buf);
  free_batch(&b);
  maml_free(fresh);
}

/* The metrics struct: the library writes only struct_size bytes. */
static void test_metrics_struct_size(void** state) {
  maml_model* m = new_small_model();
  test_batch b = make_batch(1, 1, 1, 71);
  struct {
    maml_metrics mt;
    unsigned char tail[16];
  } big;
  maml_metrics small;
  size_t i;
  (void)state;

  /* Only loss and accuracy: the rest of the struct is not written. */
  memset(&small, 0x66, sizeof small);
  small.struct_size = (uint32_t)offsetof(maml_metrics, meta_lr);
  assert_ok(maml_meta_train_step(m, &b.t, &small));
  assert_int_equal(small.struct_size, offsetof(maml_metrics, meta_lr));
  assert_true(isfinite(small.loss));
  assert_int_equal(small.second_order, 0x66666666);
  for (i = offsetof(maml_metrics, meta_lr); i < sizeof small; ++i)
    assert_int_equal(((unsigned char*)&small)[i], 0x66);

  /* Too small to hold even the loss and accuracy: refused, nothing trained. */
  small.struct_size = 4;
  assert_error(maml_meta_train_step(m, &b.t, &small), MAML_E_INVALID_ARGUMENT, "struct_size");
  {
    int64_t step = -1;
    assert_ok(maml_get_step(m, &step));
    assert_int_equal(step, 1);
  }

  /* A newer caller's larger struct: the known part is filled, the tail untouched. */
  memset(&big, 0x55, sizeof big);
  big.mt.struct_size = sizeof big;
  assert_ok(maml_meta_train_step(m, &b.t, &big.mt));
  assert_int_equal(big.mt.step, 2);
  for (i = 0; i < sizeof big.tail; ++i) assert_int_equal(big.tail[i], 0x55);
  /* struct_size stays as the caller set it (as maml_get_config does). */
  assert_int_equal(big.mt.struct_size, sizeof big);
  free_batch(&b);
  maml_free(m);
}

/* Training actually learns on the synthetic tasks: held-out loss goes down, whichever statistics
 * batch norm evaluates with. */
static void test_training_reduces_loss(void** state) {
  int mode;
  (void)state;
  for (mode = MAML_BN_RUNNING; mode <= MAML_BN_SUPPORT; ++mode) {
    maml_config c;
    maml_model* m;
    test_batch held = make_batch(4, 1, 3, 82);
    maml_metrics before, after;
    int i;
    small_config(&c);
    c.meta_lr = 0.01f;
    c.meta_lr_min = c.meta_lr;
    c.bn_stats = mode;
    m = new_model(&c);
    memset(&before, 0, sizeof before);
    before.struct_size = sizeof before;
    after = before;
    assert_ok(maml_evaluate(m, &held.t, &before));
    for (i = 0; i < 30; ++i) {
      test_batch train = make_batch(4, 1, 3, 1000 + (uint64_t)i);
      assert_ok(maml_meta_train_step(m, &train.t, NULL));
      free_batch(&train);
    }
    assert_ok(maml_evaluate(m, &held.t, &after));
    print_message("bn_stats %d: held-out loss %.4f -> %.4f, accuracy %.3f -> %.3f\n", mode,
                  before.loss, after.loss, before.accuracy, after.accuracy);
    assert_true(after.loss < before.loss);
    free_batch(&held);
    maml_free(m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_null_arguments),
      cmocka_unit_test(test_create_rejects_nonsense_configs),
      cmocka_unit_test(test_create_larger_struct),
      cmocka_unit_test(test_create_cuda_without_gpu),
      cmocka_unit_test(test_cuda_memory),
      cmocka_unit_test(test_create_is_deterministic),
      cmocka_unit_test(test_get_config_round_trip),
      cmocka_unit_test(test_model_queries),
      cmocka_unit_test(test_inner_lr_table),
      cmocka_unit_test(test_meta_train_step),
      cmocka_unit_test(test_schedule_in_metrics),
      cmocka_unit_test(test_meta_train_step_errors),
      cmocka_unit_test(test_evaluate_errors),
      cmocka_unit_test(test_evaluate_changes_nothing),
      cmocka_unit_test(test_non_finite_step_rejected),
      cmocka_unit_test(test_create_refuses_models_too_large),
      cmocka_unit_test(test_huge_meta_lr_changes_nothing),
      cmocka_unit_test(test_step_counter_limits),
      cmocka_unit_test(test_metrics_struct_size),
      cmocka_unit_test(test_head_only_adaptation),
      cmocka_unit_test(test_training_reduces_loss),
  };
  return cmocka_run_group_tests_name("capi_model", tests, NULL, NULL);
}
