/*
 * Meta-initialisation files: maml_save(_ex), maml_load, maml_save_buffer(_ex), maml_load_buffer,
 * maml_buffer_free; round trips that give bitwise identical predictions; inference-only files.
 */
#define _POSIX_C_SOURCE 200809L
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

static char g_dir[512];

static int group_setup(void** state) {
  const char* tmp = getenv("TMPDIR");
  (void)state;
  snprintf(g_dir, sizeof g_dir, "%s/mamlpp_capi_file_XXXXXX", tmp && *tmp ? tmp : "/tmp");
  return mkdtemp(g_dir) == NULL ? -1 : 0;
}

static int group_teardown(void** state) {
  char cmd[700];
  (void)state;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void path_in_dir(char* out, size_t size, const char* name) {
  snprintf(out, size, "%s/%s", g_dir, name);
}

/* Reads a whole file; the caller frees *data. */
static void read_file(const char* path, unsigned char** data, size_t* size) {
  FILE* f = fopen(path, "rb");
  long n;
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  assert_true(n > 0);
  assert_int_equal(fseek(f, 0, SEEK_SET), 0);
  *data = (unsigned char*)malloc((size_t)n);
  assert_non_null(*data);
  assert_int_equal(fread(*data, 1, (size_t)n, f), (size_t)n);
  assert_int_equal(fclose(f), 0);
  *size = (size_t)n;
}

static void write_file(const char* path, const void* data, size_t size) {
  FILE* f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, size, f), size);
  assert_int_equal(fclose(f), 0);
}

static maml_model* trained_model(void) {
  maml_model* m = new_small_model();
  int i;
  for (i = 0; i < 2; ++i) {
    test_batch b = make_batch(2, 1, 2, 700 + (uint64_t)i);
    assert_ok(maml_meta_train_step(m, &b.t, NULL));
    free_batch(&b);
  }
  return m;
}

/* Adapts m to the support set of one task (2 shots) and writes the logits of its 3 queries per
 * class to logits[T_WAY * 3 * T_WAY]. */
static void adapt_and_predict(const maml_model* m, float* logits) {
  test_batch t = make_batch(1, 2, 3, 777);
  maml_learner* l = NULL;
  assert_ok(maml_adapt(m, t.support_x, t.support_y, t.t.support_size, &l));
  assert_ok(maml_predict(l, t.query_x, t.t.query_size, logits, NULL));
  maml_learner_free(l);
  free_batch(&t);
}

/* Adapts a and b to the same support set; their logits must be bitwise identical. */
static void assert_same_predictions(const maml_model* a, const maml_model* b) {
  float pa[T_WAY * 3 * T_WAY], pb[T_WAY * 3 * T_WAY];
  adapt_and_predict(a, pa);
  adapt_and_predict(b, pb);
  assert_memory_equal(pa, pb, sizeof pa);
}

static void test_file_round_trip(void** state) {
  maml_model *m = trained_model(), *loaded = BOGUS_MODEL;
  char path[600];
  unsigned char* file;
  size_t file_size;
  void* buf = NULL;
  size_t buf_size = 0;
  snapshot original;
  int64_t step = -1;
  maml_config a, b;
  int32_t device = -1; /* CPU, or CUDA under scripts/gpu-check.sh: loaded where it was saved */
  (void)state;
  assert_ok(maml_get_device(m, &device, NULL));
  path_in_dir(path, sizeof path, "model.maml");
  assert_ok(maml_save(m, path));
  assert_no_error();
  original = take_snapshot(m);

  /* maml_save_buffer is byte for byte what maml_save writes. */
  read_file(path, &file, &file_size);
  assert_ok(maml_save_buffer(m, &buf, &buf_size));
  assert_int_equal(buf_size, file_size);
  assert_memory_equal(buf, file, file_size);

  assert_ok(maml_load(path, device, 0, &loaded));
  assert_no_error();
  assert_non_null(loaded);
  assert_true(loaded != BOGUS_MODEL);
  assert_ok(maml_get_step(loaded, &step));
  assert_int_equal(step, 2);
  a.struct_size = sizeof a;
  b.struct_size = sizeof b;
  assert_ok(maml_get_config(m, &a));
  assert_ok(maml_get_config(loaded, &b));
  assert_int_equal(a.n_way, b.n_way);
  assert_int_equal(a.num_stages, b.num_stages);
  assert_int_equal(a.num_filters, b.num_filters);
  assert_int_equal(a.inner_steps, b.inner_steps);
  assert_true(a.inner_lr == b.inner_lr);
  assert_true(a.meta_lr == b.meta_lr);
  assert_true(a.seed == b.seed);
  assert_int_equal(b.device_type, device);
  /* Everything survived: saving the loaded model gives the same bytes... */
  assert_true(snapshot_equals(loaded, &original));
  /* ...adapting gives bitwise identical predictions... */
  assert_same_predictions(m, loaded);
  /* ...and training resumes identically (Adam moments, step and schedules were saved): k steps
   * after save + load give exactly the losses of k uninterrupted steps. */
  {
    int k;
    snapshot after;
    for (k = 0; k < 3; ++k) {
      test_batch t = make_batch(2, 1, 2, 790 + (uint64_t)k);
      maml_metrics ma, mb;
      memset(&ma, 0, sizeof ma);
      ma.struct_size = sizeof ma;
      mb = ma;
      assert_ok(maml_meta_train_step(m, &t.t, &ma));
      assert_ok(maml_meta_train_step(loaded, &t.t, &mb));
      assert_true(ma.loss == mb.loss);
      assert_true(ma.accuracy == mb.accuracy);
      assert_true(ma.meta_lr == mb.meta_lr);
      assert_int_equal(mb.step, 3 + k);
      free_batch(&t);
    }
    after = take_snapshot(m);
    assert_true(snapshot_equals(loaded, &after));
    free_snapshot(&after);
  }
  maml_free(loaded);

  /* The buffer loads too, and saving over an existing file replaces it. */
  loaded = BOGUS_MODEL;
  assert_ok(maml_load_buffer(buf, buf_size, device, 0, &loaded));
  assert_true(snapshot_equals(loaded, &original));
  assert_ok(maml_save(m, path)); /* m trained three more steps */
  free(file);
  read_file(path, &file, &file_size);
  assert_false(file_size == buf_size && memcmp(file, buf, buf_size) == 0);
  maml_free(loaded);

  free(file);
  maml_buffer_free(buf);
  free_snapshot(&original);
  maml_free(m);
}

static void test_load_auto_device(void** state) {
  maml_model *m = trained_model(), *loaded = NULL;
  void* buf = NULL;
  size_t size = 0;
  int32_t type = -1;
  (void)state;
  assert_ok(maml_save_buffer(m, &buf, &size));
  assert_ok(maml_load_buffer(buf, size, MAML_DEVICE_AUTO, 0, &loaded));
  assert_ok(maml_get_device(loaded, &type, NULL));
  assert_int_equal(type, maml_cuda_device_count() > 0 ? MAML_DEVICE_CUDA : MAML_DEVICE_CPU);
  maml_free(loaded);
  maml_buffer_free(buf);
  maml_free(m);
}

/* A file saved on a GPU loads on the CPU and the reverse (runs where a GPU is visible, i.e. under
 * scripts/gpu-check.sh). The config in the file records the device, so bytes are compared after a
 * round trip back to the first device; across devices, predictions agree to float tolerance. */
static void test_load_across_devices(void** state) {
  maml_config c;
  maml_model *m, *other = NULL, *back = NULL;
  void *first = NULL, *moved = NULL, *again = NULL;
  size_t first_size = 0, moved_size = 0, again_size = 0;
  int32_t type = -1, from;
  (void)state;
  skip_without_gpu();
  small_config(&c);
  for (from = MAML_DEVICE_CPU; from <= MAML_DEVICE_CUDA; ++from) {
    const int32_t to = from == MAML_DEVICE_CPU ? MAML_DEVICE_CUDA : MAML_DEVICE_CPU;
    float pa[T_WAY * 3 * T_WAY], pb[T_WAY * 3 * T_WAY];
    int i;
    c.device_type = from;
    m = new_model(&c);
    for (i = 0; i < 2; ++i) {
      test_batch b = make_batch(2, 1, 2, 700 + (uint64_t)i);
      assert_ok(maml_meta_train_step(m, &b.t, NULL));
      free_batch(&b);
    }
    assert_ok(maml_save_buffer(m, &first, &first_size));
    assert_ok(maml_load_buffer(first, first_size, to, 0, &other));
    assert_ok(maml_get_device(other, &type, NULL));
    assert_int_equal(type, to);
    /* Back on the first device, the file is byte for byte the first one. */
    assert_ok(maml_save_buffer(other, &moved, &moved_size));
    assert_ok(maml_load_buffer(moved, moved_size, from, 0, &back));
    assert_ok(maml_save_buffer(back, &again, &again_size));
    assert_int_equal(again_size, first_size);
    assert_memory_equal(again, first, first_size);
    /* The moved model adapts and predicts like the original, up to the devices' arithmetic. */
    adapt_and_predict(m, pa);
    adapt_and_predict(other, pb);
    for (i = 0; i < T_WAY * 3 * T_WAY; ++i) assert_true(fabsf(pa[i] - pb[i]) <= 1e-3f + 1e-3f * fabsf(pa[i]));
    maml_buffer_free(first);
    maml_buffer_free(moved);
    maml_buffer_free(again);
    maml_free(back);
    maml_free(other);
    maml_free(m);
  }
}

static void test_inference_only(void** state) {
  maml_model *m = trained_model(), *full = NULL, *lean = NULL;
  void *full_buf = NULL, *lean_buf = NULL, *again = NULL;
  size_t full_size = 0, lean_size = 0, again_size = 0;
  char path[600];
  unsigned char* file;
  size_t file_size;
  int64_t step = -1;
  (void)state;
  assert_ok(maml_save_buffer_ex(m, MAML_SAVE_DEFAULT, &full_buf, &full_size));
  assert_ok(maml_save_buffer_ex(m, MAML_SAVE_INFERENCE_ONLY, &lean_buf, &lean_size));
  assert_true(lean_size < full_size);
  /* maml_save_ex writes the same bytes as maml_save_buffer_ex. */
  path_in_dir(path, sizeof path, "lean.maml");
  assert_ok(maml_save_ex(m, path, MAML_SAVE_INFERENCE_ONLY));
  read_file(path, &file, &file_size);
  assert_int_equal(file_size, lean_size);
  assert_memory_equal(file, lean_buf, lean_size);
  free(file);

  assert_ok(maml_load(path, MAML_DEVICE_CPU, 0, &lean));
  assert_ok(maml_load_buffer(full_buf, full_size, MAML_DEVICE_CPU, 0, &full));
  assert_same_predictions(m, lean);
  assert_same_predictions(full, lean);
  assert_ok(maml_get_step(lean, &step));
  print_message("inference-only: %zu bytes (full: %zu); loaded step = %lld\n", lean_size, full_size,
                (long long)step);
  /* Re-saving an inference-only model gives the same inference-only bytes. */
  assert_ok(maml_save_buffer_ex(lean, MAML_SAVE_INFERENCE_ONLY, &again, &again_size));
  assert_int_equal(again_size, lean_size);
  assert_memory_equal(again, lean_buf, lean_size);

  maml_buffer_free(again);
  maml_buffer_free(full_buf);
  maml_buffer_free(lean_buf);
  maml_free(full);
  maml_free(lean);
  maml_free(m);
}

static void test_save_errors(void** state) {
  maml_model* m = trained_model();
  char path[600], dir_path[600];
  void* data = (void*)&data;
  size_t size = 99;
  snapshot before;
  struct stat st;
  (void)state;
  before = take_snapshot(m);
  path_in_dir(path, sizeof path, "never.maml");
  assert_error(maml_save(NULL, path), MAML_E_INVALID_ARGUMENT, "model");
  assert_error(maml_save(m, NULL), MAML_E_INVALID_ARGUMENT, "path");
  assert_error(maml_save(m, ""), MAML_E_INVALID_ARGUMENT, "path");
  assert_error(maml_save_ex(NULL, path, 0), MAML_E_INVALID_ARGUMENT, "model");
  assert_error(maml_save_ex(m, NULL, 0), MAML_E_INVALID_ARGUMENT, "path");
  assert_error(maml_save_ex(m, path, 2), MAML_E_INVALID_ARGUMENT, "flags");
  assert_error(maml_save_ex(m, path, -1), MAML_E_INVALID_ARGUMENT, "flags");
  assert_int_equal(stat(path, &st), -1); /* nothing was written */

  /* A directory that does not exist: an I/O error. */
  path_in_dir(path, sizeof path, "no/such/dir/model.maml");
  assert_error(maml_save(m, path), MAML_E_IO, NULL);
  /* A path that is a directory: the rename fails; the directory is untouched. */
  path_in_dir(dir_path, sizeof dir_path, "a_directory");
  assert_int_equal(mkdir(dir_path, 0700), 0);
  assert_error(maml_save(m, dir_path), MAML_E_IO, NULL);
  assert_int_equal(stat(dir_path, &st), 0);
  assert_true(S_ISDIR(st.st_mode));

  assert_error(maml_save_buffer(NULL, &data, &size), MAML_E_INVALID_ARGUMENT, "model");
  assert_null(data);
  assert_int_equal(size, 0);
  assert_error(maml_save_buffer(m, NULL, &size), MAML_E_INVALID_ARGUMENT, "data");
  assert_error(maml_save_buffer(m, &data, NULL), MAML_E_INVALID_ARGUMENT, "size");
  data = (void*)&data;
  assert_error(maml_save_buffer_ex(m, 4, &data, &size), MAML_E_INVALID_ARGUMENT, "flags");
  assert_null(data);
  assert_error(maml_save_buffer_ex(NULL, 0, &data, &size), MAML_E_INVALID_ARGUMENT, "model");
  assert_error(maml_save_buffer_ex(m, 0, NULL, &size), MAML_E_INVALID_ARGUMENT, "data");
  assert_error(maml_save_buffer_ex(m, 0, &data, NULL), MAML_E_INVALID_ARGUMENT, "size");
  assert_unchanged(m, &before);
  free_snapshot(&before);
  maml_free(m);
}

static void test_load_errors(void** state) {
  maml_model *m = trained_model(), *out = BOGUS_MODEL;
  char path[600], good[600];
  void* buf = NULL;
  size_t size = 0;
  unsigned char* copy;
  static const char garbage[] = "this is not a meta-initialisation file";
  (void)state;
  assert_ok(maml_save_buffer(m, &buf, &size));
  path_in_dir(good, sizeof good, "good.maml");
  assert_ok(maml_save(m, good));

#define EXPECT_FAIL(expr, status, needle) \
  do {                                    \
    out = BOGUS_MODEL;                    \
    assert_error(expr, status, needle);   \
    assert_null(out);                     \
  } while (0)
  EXPECT_FAIL(maml_load(NULL, MAML_DEVICE_CPU, 0, &out), MAML_E_INVALID_ARGUMENT, "path");
  assert_error(maml_load(good, MAML_DEVICE_CPU, 0, NULL), MAML_E_INVALID_ARGUMENT, "out");
  path_in_dir(path, sizeof path, "does_not_exist.maml");
  EXPECT_FAIL(maml_load(path, MAML_DEVICE_CPU, 0, &out), MAML_E_IO, "does_not_exist.maml");
  EXPECT_FAIL(maml_load(g_dir, MAML_DEVICE_CPU, 0, &out), MAML_E_IO, NULL); /* a directory */
  path_in_dir(path, sizeof path, "garbage.maml");
  write_file(path, garbage, sizeof garbage);
  EXPECT_FAIL(maml_load(path, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, "garbage.maml");
  path_in_dir(path, sizeof path, "empty.maml");
  write_file(path, "", 0);
  EXPECT_FAIL(maml_load(path, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, NULL);
  path_in_dir(path, sizeof path, "truncated.maml");
  write_file(path, buf, size - 1);
  EXPECT_FAIL(maml_load(path, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, "truncated.maml");
  EXPECT_FAIL(maml_load(good, 7, 0, &out), MAML_E_INVALID_ARGUMENT, "device_type");
  EXPECT_FAIL(maml_load(good, -1, 0, &out), MAML_E_INVALID_ARGUMENT, "device_type");
  EXPECT_FAIL(maml_load(good, MAML_DEVICE_CPU, -1, &out), MAML_E_INVALID_ARGUMENT, "device_index");
  if (maml_cuda_device_count() == 0) {
    EXPECT_FAIL(maml_load(good, MAML_DEVICE_CUDA, 0, &out), MAML_E_DEVICE, "CUDA");
    EXPECT_FAIL(maml_load_buffer(buf, size, MAML_DEVICE_CUDA, 0, &out), MAML_E_DEVICE, "CUDA");
  } else {
    EXPECT_FAIL(maml_load(good, MAML_DEVICE_CUDA, maml_cuda_device_count(), &out), MAML_E_DEVICE,
                "CUDA");
  }

  EXPECT_FAIL(maml_load_buffer(NULL, size, MAML_DEVICE_CPU, 0, &out), MAML_E_INVALID_ARGUMENT, "data");
  assert_error(maml_load_buffer(buf, size, MAML_DEVICE_CPU, 0, NULL), MAML_E_INVALID_ARGUMENT, "out");
  EXPECT_FAIL(maml_load_buffer(buf, 0, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, NULL);
  EXPECT_FAIL(maml_load_buffer(buf, 7, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, NULL);
  EXPECT_FAIL(maml_load_buffer(buf, size / 2, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, NULL);
  EXPECT_FAIL(maml_load_buffer(buf, size - 1, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, NULL);
  EXPECT_FAIL(maml_load_buffer(garbage, sizeof garbage, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, NULL);
  EXPECT_FAIL(maml_load_buffer(buf, size, 3, 0, &out), MAML_E_INVALID_ARGUMENT, "device_type");

  /* Corruptions of the header: its length, its JSON. */
  copy = (unsigned char*)malloc(size);
  assert_non_null(copy);
  memcpy(copy, buf, size);
  copy[7] = 0x7F; /* header length far beyond the buffer */
  EXPECT_FAIL(maml_load_buffer(copy, size, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, NULL);
  memcpy(copy, buf, size);
  copy[8] = '['; /* the JSON header must be an object */
  EXPECT_FAIL(maml_load_buffer(copy, size, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, NULL);
  memcpy(copy, buf, size);
  copy[0] = 0; copy[1] = 0; copy[2] = 0; copy[3] = 0; /* header length 0 */
  EXPECT_FAIL(maml_load_buffer(copy, size, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, NULL);
  free(copy);
#undef EXPECT_FAIL

  /* After all that, the good file and buffer still load. */
  assert_ok(maml_load(good, MAML_DEVICE_CPU, 0, &out));
  maml_free(out);
  assert_ok(maml_load_buffer(buf, size, MAML_DEVICE_CPU, 0, &out));
  maml_free(out);
  maml_buffer_free(buf);
  maml_free(m);
}

/* Paths that are not regular files: refused at once, without reading or blocking. A FIFO nobody
 * writes to used to hang maml_load forever, and /dev/zero was read until the 16 GiB cap; the
 * alarm turns a hang into a failure. */
static void test_load_special_files(void** state) {
  maml_model* out = BOGUS_MODEL;
  char fifo[600];
  (void)state;
  path_in_dir(fifo, sizeof fifo, "fifo.maml");
  assert_int_equal(mkfifo(fifo, 0600), 0);
  alarm(60);
  assert_error(maml_load(fifo, MAML_DEVICE_CPU, 0, &out), MAML_E_IO, "FIFO");
  assert_null(out);
  out = BOGUS_MODEL;
  assert_error(maml_load("/dev/zero", MAML_DEVICE_CPU, 0, &out), MAML_E_IO, "character device");
  assert_null(out);
  out = BOGUS_MODEL;
  assert_error(maml_load(g_dir, MAML_DEVICE_CPU, 0, &out), MAML_E_IO, "directory");
  assert_null(out);
  alarm(0);
}

/* Headers listing 15,000 tensors (0.8 MB) and 40,000 tensors (2.3 MB): refused as soon as the
 * list passes the most tensors a valid file holds, or from the header length alone when it is
 * over the 1 MiB a model file's header may have. Parsing the second used to take about a
 * minute. */
static void test_load_hostile_header(void** state) {
  const int counts[2] = {15000, 40000};
  const char* needles[2] = {"tensors", "header length"};
  const char* entry = "\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
  int c;
  (void)state;
  for (c = 0; c < 2; ++c) {
    size_t cap = 8 + 2 + (size_t)counts[c] * 64, used = 9;
    unsigned char* buf = (unsigned char*)malloc(cap);
    maml_model* out = BOGUS_MODEL;
    int i;
    assert_non_null(buf);
    buf[8] = '{';
    for (i = 0; i < counts[c]; ++i) {
      if (i > 0) buf[used++] = ',';
      used += (size_t)snprintf((char*)buf + used, cap - used, entry, i);
    }
    buf[used++] = '}';
    for (i = 0; i < 8; ++i) buf[i] = (unsigned char)(((uint64_t)(used - 8)) >> (8 * i));
    alarm(60);
    assert_error(maml_load_buffer(buf, used, MAML_DEVICE_CPU, 0, &out), MAML_E_FORMAT, needles[c]);
    alarm(0);
    assert_null(out);
    free(buf);
  }
}

/* A failed save leaves the previous file at the path untouched. */
static void test_save_is_atomic(void** state) {
  maml_model* m = trained_model();
  char path[600];
  unsigned char *before, *after;
  size_t before_size, after_size;
  (void)state;
  path_in_dir(path, sizeof path, "atomic.maml");
  assert_ok(maml_save(m, path));
  read_file(path, &before, &before_size);
  assert_error(maml_save_ex(m, path, 8), MAML_E_INVALID_ARGUMENT, "flags");
  read_file(path, &after, &after_size);
  assert_int_equal(after_size, before_size);
  assert_memory_equal(after, before, before_size);
  free(before);
  free(after);
  maml_free(m);
}

/* float64 models: train, save, load, bitwise identical predictions; the file is larger. */
static void test_float64_round_trip(void** state) {
  maml_config c;
  maml_model *m, *loaded = NULL, *m32;
  test_batch b = make_batch(2, 1, 2, 880);
  void *buf = NULL, *buf32 = NULL;
  size_t size = 0, size32 = 0;
  maml_config got;
  (void)state;
  small_config(&c);
  m32 = new_model(&c);
  c.dtype = MAML_DTYPE_FLOAT64;
  m = new_model(&c);
  assert_ok(maml_meta_train_step(m, &b.t, NULL));
  assert_ok(maml_save_buffer(m, &buf, &size));
  assert_ok(maml_save_buffer(m32, &buf32, &size32));
  assert_true(size > size32);
  assert_ok(maml_load_buffer(buf, size, MAML_DEVICE_CPU, 0, &loaded));
  got.struct_size = sizeof got;
  assert_ok(maml_get_config(loaded, &got));
  assert_int_equal(got.dtype, MAML_DTYPE_FLOAT64);
  assert_same_predictions(m, loaded);
  maml_buffer_free(buf);
  maml_buffer_free(buf32);
  maml_free(loaded);
  maml_free(m);
  maml_free(m32);
  free_batch(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_file_round_trip),
      cmocka_unit_test(test_load_auto_device),
      cmocka_unit_test(test_load_across_devices),
      cmocka_unit_test(test_inference_only),
      cmocka_unit_test(test_save_errors),
      cmocka_unit_test(test_load_errors),
      cmocka_unit_test(test_load_special_files),
      cmocka_unit_test(test_load_hostile_header),
      cmocka_unit_test(test_save_is_atomic),
      cmocka_unit_test(test_float64_round_trip),
  };
  return cmocka_run_group_tests_name("capi_file", tests, group_setup, group_teardown);
}
