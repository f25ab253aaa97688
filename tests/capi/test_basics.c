/*
 * The C ABI without models: versions, status strings, maml_last_error (including its thread
 * locality), config initialisation, the frozen struct layouts and the NULL-tolerant free calls.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "test_util.h"

/* ---- versions --------------------------------------------------------------------------- */

static void test_versions(void** state) {
  char expected[64];
  (void)state;
  assert_int_equal(maml_abi_version(), MAMLPP_ABI_VERSION);
  assert_int_equal(maml_version_number(), MAMLPP_VERSION_NUMBER);
  assert_int_equal(MAMLPP_VERSION_NUMBER,
                   MAMLPP_VERSION_MAJOR * 10000 + MAMLPP_VERSION_MINOR * 100 + MAMLPP_VERSION_PATCH);
  assert_non_null(maml_version_string());
  assert_string_equal(maml_version_string(), MAMLPP_VERSION_STRING);
  snprintf(expected, sizeof expected, "%d.%d.%d", MAMLPP_VERSION_MAJOR, MAMLPP_VERSION_MINOR,
           MAMLPP_VERSION_PATCH);
  assert_string_equal(MAMLPP_VERSION_STRING, expected);
  /* Static storage: the same pointer every time. */
  assert_ptr_equal(maml_version_string(), maml_version_string());
}

/* ---- status strings --------------------------------------------------------------------- */

static void test_status_strings(void** state) {
  static const struct {
    maml_status status;
    const char* name;
  } known[] = {
      {MAML_OK, "MAML_OK"},
      {MAML_E_INVALID_ARGUMENT, "MAML_E_INVALID_ARGUMENT"},
      {MAML_E_IO, "MAML_E_IO"},
      {MAML_E_FORMAT, "MAML_E_FORMAT"},
      {MAML_E_DEVICE, "MAML_E_DEVICE"},
      {MAML_E_OUT_OF_MEMORY, "MAML_E_OUT_OF_MEMORY"},
      {MAML_E_NUMERICAL, "MAML_E_NUMERICAL"},
      {MAML_E_UNSUPPORTED, "MAML_E_UNSUPPORTED"},
      {MAML_E_INTERNAL, "MAML_E_INTERNAL"},
      {MAML_E_DISTRIBUTED, "MAML_E_DISTRIBUTED"},
  };
  static const maml_status unknown[] = {1, -10, 100, -100, INT32_MAX, INT32_MIN};
  size_t i;
  (void)state;
  /* The values are frozen. */
  assert_int_equal(MAML_OK, 0);
  assert_int_equal(MAML_E_INVALID_ARGUMENT, -1);
  assert_int_equal(MAML_E_IO, -2);
  assert_int_equal(MAML_E_FORMAT, -3);
  assert_int_equal(MAML_E_DEVICE, -4);
  assert_int_equal(MAML_E_OUT_OF_MEMORY, -5);
  assert_int_equal(MAML_E_NUMERICAL, -6);
  assert_int_equal(MAML_E_UNSUPPORTED, -7);
  assert_int_equal(MAML_E_INTERNAL, -8);
  assert_int_equal(MAML_E_DISTRIBUTED, -9);
  for (i = 0; i < sizeof known / sizeof known[0]; ++i) {
    assert_non_null(maml_status_string(known[i].status));
    assert_string_equal(maml_status_string(known[i].status), known[i].name);
  }
  for (i = 0; i < sizeof unknown / sizeof unknown[0]; ++i)
    assert_string_equal(maml_status_string(unknown[i]), "unknown status");
}

/* ---- constants ---------------------------------------------------------------------------- */

static void test_constants(void** state) {
  (void)state;
  assert_int_equal(MAML_DEVICE_AUTO, 0);
  assert_int_equal(MAML_DEVICE_CPU, 1);
  assert_int_equal(MAML_DEVICE_CUDA, 2);
  assert_int_equal(MAML_BN_RUNNING, 0);
  assert_int_equal(MAML_BN_TRANSDUCTIVE, 1);
  assert_int_equal(MAML_BN_SUPPORT, 2);
  assert_int_equal(MAML_TASKS_AUTO, 0);
  assert_int_equal(MAML_TASKS_LOOP, 1);
  assert_int_equal(MAML_TASKS_BATCHED, 2);
  assert_int_equal(MAML_DTYPE_FLOAT32, 0);
  assert_int_equal(MAML_DTYPE_FLOAT64, 1);
  assert_int_equal(MAML_SAVE_DEFAULT, 0);
  assert_int_equal(MAML_SAVE_INFERENCE_ONLY, 1);
}

/* ---- the ABI: struct layouts are frozen (LP64 and ILP32 with 8-byte aligned int64) -------- */

static void test_struct_layout(void** state) {
  (void)state;
  if (sizeof(void*) != 8 || offsetof(maml_metrics, step) != 24) {
    skip(); /* the numbers below are those of the LP64 ABIs this library ships for */
  }
  assert_int_equal(offsetof(maml_config, struct_size), 0);
  assert_int_equal(offsetof(maml_config, n_way), 4);
  assert_int_equal(offsetof(maml_config, image_width), 16);
  assert_int_equal(offsetof(maml_config, inner_lr), 40);
  assert_int_equal(offsetof(maml_config, bn_stats), 52);
  assert_int_equal(offsetof(maml_config, meta_lr), 72);
  assert_int_equal(offsetof(maml_config, iters_per_epoch), 96);
  assert_int_equal(offsetof(maml_config, device_type), 100);
  assert_int_equal(offsetof(maml_config, device_index), 104);
  assert_int_equal(offsetof(maml_config, reserved0), 108);
  assert_int_equal(offsetof(maml_config, seed), 112);
  assert_int_equal(offsetof(maml_config, task_batching), 120);
  assert_int_equal(offsetof(maml_config, num_threads), 124);
  assert_int_equal(offsetof(maml_config, dtype), 128);
  assert_int_equal(offsetof(maml_config, reserved1), 132);
  /* 1.1 */
  assert_int_equal(offsetof(maml_config, grad_clip_lslr), 136);
  /* 1.2: 1.1's reserved2 */
  assert_int_equal(offsetof(maml_config, adapt_last_layers), 140);
  /* 1.3: vector inputs and regression */
  assert_int_equal(offsetof(maml_config, backbone), 144);
  assert_int_equal(offsetof(maml_config, input_features), 148);
  assert_int_equal(offsetof(maml_config, hidden_layers), 152);
  assert_int_equal(offsetof(maml_config, hidden_sizes), 156);
  assert_int_equal(offsetof(maml_config, activation), 188);
  assert_int_equal(offsetof(maml_config, task_kind), 192);
  assert_int_equal(offsetof(maml_config, n_outputs), 196);
  assert_int_equal(offsetof(maml_config, batch_norm), 200);
  assert_int_equal(offsetof(maml_config, reserved3), 204);
  assert_int_equal(sizeof(maml_config), 208);

  assert_int_equal(offsetof(maml_tasks, num_tasks), 4);
  assert_int_equal(offsetof(maml_tasks, support_size), 8);
  assert_int_equal(offsetof(maml_tasks, query_size), 12);
  assert_int_equal(offsetof(maml_tasks, support_x), 16);
  assert_int_equal(offsetof(maml_tasks, support_y), 24);
  assert_int_equal(offsetof(maml_tasks, query_x), 32);
  assert_int_equal(offsetof(maml_tasks, query_y), 40);
  assert_int_equal(offsetof(maml_tasks, support_t), 48);
  assert_int_equal(offsetof(maml_tasks, query_t), 56);
  assert_int_equal(sizeof(maml_tasks), 64);

  assert_int_equal(offsetof(maml_metrics, loss), 4);
  assert_int_equal(offsetof(maml_metrics, accuracy), 8);
  assert_int_equal(offsetof(maml_metrics, meta_lr), 12);
  assert_int_equal(offsetof(maml_metrics, second_order), 16);
  assert_int_equal(offsetof(maml_metrics, reserved0), 20);
  assert_int_equal(offsetof(maml_metrics, step), 24);
  assert_int_equal(offsetof(maml_metrics, epoch), 32);
  assert_int_equal(sizeof(maml_metrics), 40);
}

/* ---- config defaults ---------------------------------------------------------------------- */

static void test_config_init_defaults(void** state) {
  maml_config c;
  (void)state;
  memset(&c, 0xAB, sizeof c);
  maml_config_init(&c);
  assert_int_equal(c.struct_size, sizeof(maml_config));
  assert_int_equal(c.n_way, 5);
  assert_int_equal(c.image_channels, 1);
  assert_int_equal(c.image_height, 28);
  assert_int_equal(c.image_width, 28);
  assert_int_equal(c.num_stages, 4);
  assert_int_equal(c.num_filters, 64);
  assert_int_equal(c.max_pool, 1);
  assert_int_equal(c.inner_steps, 5);
  assert_int_equal(c.eval_inner_steps, 5);
  assert_true(c.inner_lr == 0.1f);
  assert_int_equal(c.learn_inner_lr, 1);
  assert_int_equal(c.per_step_bn, 1);
  assert_int_equal(c.bn_stats, MAML_BN_SUPPORT);
  assert_int_equal(c.multi_step_loss, 1);
  assert_int_equal(c.msl_epochs, 10);
  assert_int_equal(c.second_order, 1);
  assert_int_equal(c.first_order_epochs, 50);
  assert_true(c.meta_lr == 0.001f);
  assert_true(c.meta_lr_min == 1e-5f);
  assert_true(c.adam_beta1 == 0.9f);
  assert_true(c.adam_beta2 == 0.99f);
  assert_true(c.grad_clip == 0.0f);
  assert_int_equal(c.epochs, 150);
  assert_int_equal(c.iters_per_epoch, 500);
  assert_int_equal(c.device_type, MAML_DEVICE_AUTO);
  assert_int_equal(c.device_index, 0);
  assert_true(c.seed == 0);
  assert_int_equal(c.task_batching, MAML_TASKS_AUTO);
  assert_int_equal(c.num_threads, 0);
  assert_int_equal(c.dtype, MAML_DTYPE_FLOAT32);
  assert_int_equal(c.grad_clip_lslr, 0);
  assert_int_equal(c.adapt_last_layers, 0);
  /* NULL is ignored. */
  maml_config_init(NULL);
}

static int config_fields_equal(const maml_config* a, const maml_config* b) {
  return a->n_way == b->n_way && a->image_channels == b->image_channels &&
         a->image_height == b->image_height && a->image_width == b->image_width &&
         a->num_stages == b->num_stages && a->num_filters == b->num_filters &&
         a->max_pool == b->max_pool && a->inner_steps == b->inner_steps &&
         a->eval_inner_steps == b->eval_inner_steps && a->inner_lr == b->inner_lr &&
         a->learn_inner_lr == b->learn_inner_lr && a->per_step_bn == b->per_step_bn &&
         a->bn_stats == b->bn_stats && a->multi_step_loss == b->multi_step_loss &&
         a->msl_epochs == b->msl_epochs && a->second_order == b->second_order &&
         a->first_order_epochs == b->first_order_epochs && a->meta_lr == b->meta_lr &&
         a->meta_lr_min == b->meta_lr_min && a->adam_beta1 == b->adam_beta1 &&
         a->adam_beta2 == b->adam_beta2 && a->grad_clip == b->grad_clip && a->epochs == b->epochs &&
         a->iters_per_epoch == b->iters_per_epoch && a->device_type == b->device_type &&
         a->device_index == b->device_index && a->seed == b->seed &&
         a->task_batching == b->task_batching && a->num_threads == b->num_threads &&
         a->dtype == b->dtype;
}

/* The exported maml_config_init (what programs built against the 1.0 header call, bypassing the
 * header's macro) writes exactly the 1.0 struct: 136 bytes, struct_size 136, nothing after. */
static void test_config_init_symbol_writes_the_1_0_struct(void** state) {
  unsigned char raw[sizeof(maml_config) + 16];
  maml_config reference;
  maml_config* c = (maml_config*)(void*)raw;
  size_t i;
  (void)state;
  maml_config_init(&reference);
  memset(raw, 0x5A, sizeof raw);
  (maml_config_init)(c);
  assert_int_equal(c->struct_size, 136);
  assert_true(config_fields_equal(c, &reference));
  for (i = 136; i < sizeof raw; ++i) assert_int_equal(raw[i], 0x5A);
}

static void test_config_init_sized(void** state) {
  maml_config reference, c;
  unsigned char big[sizeof(maml_config) + 32];
  maml_config* bigc = (maml_config*)(void*)big; /* char storage; only read field by field */
  size_t i;
  (void)state;
  maml_config_init(&reference);

  assert_error(maml_config_init_sized(NULL, sizeof(maml_config)), MAML_E_INVALID_ARGUMENT, "cfg");

  memset(&c, 0xCD, sizeof c);
  assert_error(maml_config_init_sized(&c, 0), MAML_E_INVALID_ARGUMENT, "struct_size");
  assert_error(maml_config_init_sized(&c, 135), MAML_E_INVALID_ARGUMENT, "struct_size");
  /* A failed call changes nothing. */
  for (i = 0; i < sizeof c; ++i) assert_int_equal(((unsigned char*)&c)[i], 0xCD);

  assert_ok(maml_config_init_sized(&c, sizeof(maml_config)));
  assert_no_error();
  assert_int_equal(c.struct_size, sizeof(maml_config));
  assert_true(config_fields_equal(&c, &reference));

  /* A 1.0 program's struct: 136 bytes written, not one more. */
  memset(&c, 0xCD, sizeof c);
  assert_ok(maml_config_init_sized(&c, 136));
  assert_int_equal(c.struct_size, 136);
  assert_true(config_fields_equal(&c, &reference));
  for (i = 136; i < sizeof c; ++i) assert_int_equal(((unsigned char*)&c)[i], 0xCD);

  /* A newer binding's larger struct: the known part gets the defaults, the rest zeros, and
   * struct_size is what the caller said. */
  memset(big, 0xEE, sizeof big);
  assert_ok(maml_config_init_sized(bigc, (uint32_t)sizeof big));
  assert_int_equal(bigc->struct_size, sizeof big);
  assert_true(config_fields_equal(bigc, &reference));
  for (i = sizeof(maml_config); i < sizeof big; ++i) assert_int_equal(big[i], 0);
}

/* ---- errors and maml_last_error ---------------------------------------------------------- */

static void test_last_error_cleared_by_success(void** state) {
  maml_config c;
  (void)state;
  assert_error(maml_config_init_sized(NULL, sizeof c), MAML_E_INVALID_ARGUMENT, "cfg");
  /* Stable until the next call. */
  assert_true(maml_last_error()[0] != '\0');
  assert_true(maml_last_error()[0] != '\0');
  assert_ok(maml_config_init_sized(&c, sizeof c));
  assert_no_error();
}

typedef struct thread_probe {
  int fail;           /* make a call fail on this thread */
  char seen[512];     /* maml_last_error() as this thread saw it */
  maml_status status; /* what the call returned */
} thread_probe;

static void* probe_thread(void* arg) {
  thread_probe* p = (thread_probe*)arg;
  maml_config c;
  const char* e = maml_last_error(); /* a fresh thread has no error */
  snprintf(p->seen, sizeof p->seen, "%s", e ? e : "(null)");
  if (p->seen[0] != '\0') return NULL;
  p->status = p->fail ? maml_config_init_sized(NULL, sizeof c) : maml_config_init_sized(&c, sizeof c);
  e = maml_last_error();
  snprintf(p->seen, sizeof p->seen, "%s", e ? e : "(null)");
  return NULL;
}

static void test_last_error_is_thread_local(void** state) {
  pthread_t t;
  thread_probe p;
  char mine[512];
  (void)state;
  /* An error on this thread is not seen by another thread... */
  assert_error(maml_config_init_sized(NULL, 0), MAML_E_INVALID_ARGUMENT, "cfg");
  snprintf(mine, sizeof mine, "%s", maml_last_error());
  memset(&p, 0, sizeof p);
  p.fail = 0;
  assert_int_equal(pthread_create(&t, NULL, probe_thread, &p), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(p.status, MAML_OK);
  assert_string_equal(p.seen, "");
  /* ...and neither its success nor its own error touches this thread's message. */
  assert_string_equal(maml_last_error(), mine);
  memset(&p, 0, sizeof p);
  p.fail = 1;
  assert_int_equal(pthread_create(&t, NULL, probe_thread, &p), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(p.status, MAML_E_INVALID_ARGUMENT);
  assert_true(strstr(p.seen, "cfg") != NULL);
  assert_string_equal(maml_last_error(), mine);

  /* And the reverse: a clean main thread does not see another thread's error. */
  {
    maml_config c;
    assert_ok(maml_config_init_sized(&c, sizeof c));
  }
  memset(&p, 0, sizeof p);
  p.fail = 1;
  assert_int_equal(pthread_create(&t, NULL, probe_thread, &p), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_true(p.seen[0] != '\0');
  assert_no_error();
}

/* ---- free calls, device count --------------------------------------------------------------- */

static void test_free_null(void** state) {
  (void)state;
  maml_free(NULL);
  maml_learner_free(NULL);
  maml_buffer_free(NULL);
}

static void test_cuda_device_count(void** state) {
  (void)state;
  assert_true(maml_cuda_device_count() >= 0);
  assert_int_equal(maml_cuda_device_count(), maml_cuda_device_count());
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_versions),
      cmocka_unit_test(test_status_strings),
      cmocka_unit_test(test_constants),
      cmocka_unit_test(test_struct_layout),
      cmocka_unit_test(test_config_init_defaults),
      cmocka_unit_test(test_config_init_sized),
      cmocka_unit_test(test_config_init_symbol_writes_the_1_0_struct),
      cmocka_unit_test(test_last_error_cleared_by_success),
      cmocka_unit_test(test_last_error_is_thread_local),
      cmocka_unit_test(test_free_null),
      cmocka_unit_test(test_cuda_device_count),
  };
  return cmocka_run_group_tests_name("capi_basics", tests, NULL, NULL);
}
