/*
 * A machine without a usable GPU, e.g. CI's machines running the build against PyPI's CUDA
 * LibTorch (scripts/test.sh): CPU models work from creation to prediction, every CUDA request is
 * MAML_E_DEVICE with a message that says why, and a refused request changes nothing.
 *
 * Built with MAMLPP_TEST_TORCH_CUDA=1 when the library is built against a CUDA LibTorch: then the
 * message must come from the CUDA build's branch (core/device.cpp), which names the reason the CUDA
 * runtime gives; against a CPU-only LibTorch it must say so. Where a GPU is visible, every test
 * prints "skipped: a GPU is visible" and skips: scripts/gpu-check.sh covers that side.
 */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include "test_util.h"

#ifdef MAMLPP_TEST_TORCH_CUDA
#define NO_GPU_NEEDLE "LibTorch sees no CUDA GPU: this libmamlpp is built with CUDA; the CUDA runtime says: "
#else
#define NO_GPU_NEEDLE "LibTorch sees no CUDA GPU: this libmamlpp is built against a CPU-only LibTorch"
#endif

static char g_path[512];

#define skip_with_gpu()                                                                         \
  do {                                                                                          \
    if (maml_cuda_device_count() > 0) {                                                         \
      print_message("skipped: a GPU is visible: %s is for machines without one\n", __func__);  \
      skip();                                                                                   \
    }                                                                                           \
  } while (0)

static maml_model* cpu_model(int32_t device_type) {
  maml_config c;
  small_config(&c);
  c.device_type = device_type;
  return new_model(&c);
}

/* The whole CPU life cycle, AUTO resolving to the CPU: train, evaluate, adapt, predict. */
static void test_cpu_models_run(void** state) {
  const int32_t types[2] = {MAML_DEVICE_CPU, MAML_DEVICE_AUTO};
  int t, i;
  (void)state;
  skip_with_gpu();
  for (t = 0; t < 2; ++t) {
    maml_model* m = cpu_model(types[t]);
    maml_learner* l = BOGUS_LEARNER;
    maml_metrics metrics;
    test_batch b = make_batch(2, 1, 2, 41);
    int32_t type = -1, index = -1, labels[T_WAY * 2];
    float logits[T_WAY * 2 * T_WAY];
    assert_ok(maml_get_device(m, &type, &index));
    assert_int_equal(type, MAML_DEVICE_CPU);
    assert_int_equal(index, 0);
    memset(&metrics, 0, sizeof metrics);
    metrics.struct_size = sizeof metrics;
    assert_ok(maml_meta_train_step(m, &b.t, &metrics));
    assert_true(isfinite(metrics.loss));
    assert_ok(maml_evaluate(m, &b.t, &metrics));
    assert_true(metrics.accuracy >= 0.0f && metrics.accuracy <= 1.0f);
    assert_ok(maml_adapt(m, b.support_x, b.support_y, T_WAY, &l));
    assert_true(l != NULL && l != BOGUS_LEARNER);
    assert_ok(maml_predict(l, b.query_x, T_WAY * 2, logits, labels));
    for (i = 0; i < T_WAY * 2; ++i) {
      assert_in_range(labels[i], 0, T_WAY - 1);
      assert_true(isfinite(logits[i * T_WAY]));
    }
    maml_learner_free(l);
    free_batch(&b);
    maml_free(m);
  }
}

/* maml_create on CUDA: refused, the handle is NULL, and the message says why; a CPU model created
 * right after is fine. */
static void test_create_on_cuda_is_refused(void** state) {
  maml_config c;
  maml_model* m = BOGUS_MODEL;
  int32_t index;
  (void)state;
  skip_with_gpu();
  for (index = 0; index < 2; ++index) {
    small_config(&c);
    c.device_type = MAML_DEVICE_CUDA;
    c.device_index = index;
    m = BOGUS_MODEL;
    assert_error(maml_create(&c, &m), MAML_E_DEVICE, "MAML_DEVICE_CUDA requested");
    assert_null(m);
    check_last_error_("maml_create", NO_GPU_NEEDLE);
  }
  print_message("refused as expected: %s\n", maml_last_error());
  maml_free(cpu_model(MAML_DEVICE_CPU));
}

/* Loading onto CUDA, from a file and from a buffer: refused, and the buffer still loads on the CPU
 * (AUTO and CPU) with the same bytes. */
static void test_load_on_cuda_is_refused(void** state) {
  maml_model* m;
  maml_model* out = BOGUS_MODEL;
  void* buf = NULL;
  size_t size = 0;
  int32_t type;
  (void)state;
  skip_with_gpu();
  m = cpu_model(MAML_DEVICE_CPU);
  assert_ok(maml_save_buffer(m, &buf, &size));
  assert_ok(maml_save(m, g_path));

  assert_error(maml_load_buffer(buf, size, MAML_DEVICE_CUDA, 0, &out), MAML_E_DEVICE, NO_GPU_NEEDLE);
  assert_null(out);
  out = BOGUS_MODEL;
  assert_error(maml_load(g_path, MAML_DEVICE_CUDA, 0, &out), MAML_E_DEVICE, NO_GPU_NEEDLE);
  assert_null(out);

  for (type = MAML_DEVICE_AUTO; type <= MAML_DEVICE_CPU; ++type) {
    int32_t got = -1;
    out = NULL;
    assert_ok(maml_load_buffer(buf, size, type, 0, &out));
    assert_ok(maml_get_device(out, &got, NULL));
    assert_int_equal(got, MAML_DEVICE_CPU);
    if (type == MAML_DEVICE_CPU) { /* the file records the requested device: AUTO differs there */
      snapshot saved;
      saved.data = buf;
      saved.size = size;
      saved.step = 0;
      assert_true(snapshot_equals(out, &saved));
    }
    maml_free(out);
  }
  maml_buffer_free(buf);
  maml_free(m);
  unlink(g_path);
}

/* GPU memory statistics: a device error that says why, outputs untouched. */
static void test_cuda_memory_is_refused(void** state) {
  int64_t current = -7, peak = -7;
  (void)state;
  skip_with_gpu();
  assert_error(maml_cuda_memory(0, 0, &current, &peak), MAML_E_DEVICE, NO_GPU_NEEDLE);
  assert_true(current == -7 && peak == -7);
  assert_int_equal(maml_cuda_device_count(), 0);
}

int main(void) {
  const char* tmp = getenv("TMPDIR");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cpu_models_run),
      cmocka_unit_test(test_create_on_cuda_is_refused),
      cmocka_unit_test(test_load_on_cuda_is_refused),
      cmocka_unit_test(test_cuda_memory_is_refused),
  };
  snprintf(g_path, sizeof g_path, "%s/mamlpp_capi_no_gpu_%ld.maml", tmp && *tmp ? tmp : "/tmp",
           (long)getpid());
  return cmocka_run_group_tests(tests, NULL, NULL);
}
