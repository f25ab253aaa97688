/*
 * User metadata: maml_set_metadata, maml_get_metadata, maml_list_metadata; the entries travel
 * through maml_save / maml_load and maml_save_buffer / maml_load_buffer (inference-only files
 * included); keys and values are checked; a failed call changes nothing and clears its outputs.
 */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include "test_util.h"

/* The value of key (a copy), or NULL when absent. */
static char* get(const maml_model* m, const char* key) {
  char* v = (char*)0x1;
  assert_ok(maml_get_metadata(m, key, &v));
  assert_no_error();
  return v;
}

static void assert_value(const maml_model* m, const char* key, const char* expected) {
  char* v = get(m, key);
  if (expected == NULL) {
    assert_null(v);
    return;
  }
  assert_non_null(v);
  assert_string_equal(v, expected);
  maml_buffer_free(v);
}

/* The keys as one string "a,b,c" (a NUL-separated list joined with commas). */
static void assert_keys(const maml_model* m, const char* expected) {
  char* keys = (char*)0x1;
  size_t size = 12345, i;
  char joined[4096];
  assert_ok(maml_list_metadata(m, &keys, &size));
  if (expected[0] == '\0') {
    assert_null(keys);
    assert_int_equal(size, 0);
    return;
  }
  assert_non_null(keys);
  assert_true(size > 0 && size < sizeof joined);
  assert_int_equal(keys[size - 1], '\0');
  for (i = 0; i + 1 < size; ++i) joined[i] = keys[i] == '\0' ? ',' : keys[i];
  joined[size - 1] = '\0';
  assert_string_equal(joined, expected);
  maml_buffer_free(keys);
}

static const char* kUnicode = "Zo\xc3\xab \xe2\x9c\x93 \xf0\x9f\x98\x80 tab\tnewline\n\"q\" \\";

static void fill(maml_model* m) {
  assert_ok(maml_set_metadata(m, "mamlpp.preprocessing", "{\"invert\":true}"));
  assert_ok(maml_set_metadata(m, "author", kUnicode));
  assert_ok(maml_set_metadata(m, "empty", ""));
}

static void assert_filled(const maml_model* m) {
  assert_keys(m, "author,empty,mamlpp.preprocessing");
  assert_value(m, "mamlpp.preprocessing", "{\"invert\":true}");
  assert_value(m, "author", kUnicode);
  assert_value(m, "empty", "");
  assert_value(m, "absent", NULL);
}

static void test_set_get_list(void** state) {
  maml_model* m = new_small_model();
  (void)state;
  assert_keys(m, "");
  assert_value(m, "anything", NULL);
  fill(m);
  assert_filled(m);
  /* Replace, then remove (twice: removing an absent key is fine). */
  assert_ok(maml_set_metadata(m, "empty", "now set"));
  assert_value(m, "empty", "now set");
  assert_ok(maml_set_metadata(m, "empty", NULL));
  assert_ok(maml_set_metadata(m, "empty", NULL));
  assert_no_error();
  assert_value(m, "empty", NULL);
  assert_keys(m, "author,mamlpp.preprocessing");
  /* The returned string is a copy: changing the model does not change it. */
  {
    char* v = get(m, "author");
    assert_ok(maml_set_metadata(m, "author", "someone else"));
    assert_string_equal(v, kUnicode);
    maml_buffer_free(v);
  }
  maml_free(m);
}

static void round_trip_file(int32_t flags) {
  char path[256];
  maml_model* m = new_small_model();
  maml_model* back = NULL;
  const char* tmp = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/mamlpp_capi_metadata_%ld_%d.maml", tmp && *tmp ? tmp : "/tmp",
           (long)getpid(), (int)flags);
  fill(m);
  assert_ok(maml_save_ex(m, path, flags));
  assert_ok(maml_load(path, MAML_DEVICE_CPU, 0, &back));
  assert_filled(back);
  /* Load, change, save again: the file holds the new entries, no stale ones. */
  assert_ok(maml_set_metadata(back, "author", NULL));
  assert_ok(maml_set_metadata(back, "new", "x"));
  assert_ok(maml_save_ex(back, path, flags));
  maml_free(back);
  back = NULL;
  assert_ok(maml_load(path, MAML_DEVICE_CPU, 0, &back));
  assert_keys(back, "empty,mamlpp.preprocessing,new");
  assert_value(back, "author", NULL);
  maml_free(back);
  maml_free(m);
  unlink(path);
}

static void test_round_trip_file(void** state) {
  (void)state;
  round_trip_file(MAML_SAVE_DEFAULT);
  round_trip_file(MAML_SAVE_INFERENCE_ONLY);
}

static void test_round_trip_buffer(void** state) {
  maml_model* m = new_small_model();
  maml_model* back = NULL;
  void* data = NULL;
  void* plain_data = NULL;
  size_t size = 0, plain_size = 0;
  (void)state;
  assert_ok(maml_save_buffer(m, &plain_data, &plain_size));
  fill(m);
  assert_ok(maml_save_buffer(m, &data, &size));
  assert_true(size > plain_size); /* the entries are in the file */
  assert_ok(maml_load_buffer(data, size, MAML_DEVICE_CPU, 0, &back));
  assert_filled(back);
  /* Equal models with equal metadata give equal bytes. */
  {
    void* again = NULL;
    size_t again_size = 0;
    assert_ok(maml_save_buffer(back, &again, &again_size));
    assert_int_equal(again_size, size);
    assert_memory_equal(again, data, size);
    maml_buffer_free(again);
  }
  maml_free(back);
  back = NULL;
  /* A file without metadata loads without any. */
  assert_ok(maml_load_buffer(plain_data, plain_size, MAML_DEVICE_CPU, 0, &back));
  assert_keys(back, "");
  maml_free(back);
  maml_buffer_free(plain_data);
  maml_buffer_free(data);
  maml_free(m);
}

static void test_bad_keys_and_values(void** state) {
  maml_model* m = new_small_model();
  char long_key[130];
  char* long_value;
  (void)state;
  fill(m);
  memset(long_key, 'k', 129);
  long_key[129] = '\0';
  long_value = (char*)malloc(65538);
  assert_non_null(long_value);
  memset(long_value, 'v', 65537);
  long_value[65537] = '\0';

  assert_error(maml_set_metadata(NULL, "k", "v"), MAML_E_INVALID_ARGUMENT, "model");
  assert_error(maml_set_metadata(m, NULL, "v"), MAML_E_INVALID_ARGUMENT, "key");
  assert_error(maml_set_metadata(m, "", "v"), MAML_E_INVALID_ARGUMENT, "must not be empty");
  assert_error(maml_set_metadata(m, long_key, "v"), MAML_E_INVALID_ARGUMENT, "at most 128");
  assert_error(maml_set_metadata(m, "a b", "v"), MAML_E_INVALID_ARGUMENT, "ASCII letters");
  assert_error(maml_set_metadata(m, "step", "v"), MAML_E_INVALID_ARGUMENT, "reserved");
  assert_error(maml_set_metadata(m, "config", NULL), MAML_E_INVALID_ARGUMENT, "reserved");
  assert_error(maml_set_metadata(m, "libmamlpp.x", "v"), MAML_E_INVALID_ARGUMENT, "reserved");
  assert_error(maml_set_metadata(m, "author", "\xff"), MAML_E_INVALID_ARGUMENT, "invalid UTF-8");
  assert_error(maml_set_metadata(m, "author", "bell\x07"), MAML_E_INVALID_ARGUMENT,
               "control character");
  assert_error(maml_set_metadata(m, "author", long_value), MAML_E_INVALID_ARGUMENT,
               "at most 65536");
  long_value[65536] = '\0'; /* exactly the limit: accepted */
  assert_ok(maml_set_metadata(m, "long", long_value));
  assert_ok(maml_set_metadata(m, "long", NULL));

  /* A failed set changed nothing, and every value is still as set. */
  assert_filled(m);

  {
    char* v = (char*)0x1;
    assert_error(maml_get_metadata(NULL, "k", &v), MAML_E_INVALID_ARGUMENT, "model");
    assert_null(v);
    v = (char*)0x1;
    assert_error(maml_get_metadata(m, NULL, &v), MAML_E_INVALID_ARGUMENT, "key");
    assert_null(v);
    v = (char*)0x1;
    assert_error(maml_get_metadata(m, "step", &v), MAML_E_INVALID_ARGUMENT, "reserved");
    assert_null(v);
    assert_error(maml_get_metadata(m, "author", NULL), MAML_E_INVALID_ARGUMENT, "value");
  }
  {
    char* keys = (char*)0x1;
    size_t size = 7;
    assert_error(maml_list_metadata(NULL, &keys, &size), MAML_E_INVALID_ARGUMENT, "model");
    assert_null(keys);
    assert_int_equal(size, 0);
    assert_error(maml_list_metadata(m, NULL, &size), MAML_E_INVALID_ARGUMENT, "keys");
    assert_error(maml_list_metadata(m, &keys, NULL), MAML_E_INVALID_ARGUMENT, "size");
  }
  free(long_value);
  maml_free(m);
}

static void test_limits(void** state) {
  maml_model* m = new_small_model();
  char key[32];
  char* value = (char*)malloc(65537);
  int i;
  void* data = NULL;
  size_t size = 0;
  (void)state;
  assert_non_null(value);
  /* 256 entries fit; the 257th is refused and leaves the 256. */
  for (i = 0; i < 256; ++i) {
    snprintf(key, sizeof key, "k%03d", i);
    assert_ok(maml_set_metadata(m, key, "v"));
  }
  assert_error(maml_set_metadata(m, "one.more", "v"), MAML_E_INVALID_ARGUMENT,
               "257 metadata entries; at most 256");
  assert_value(m, "one.more", NULL);
  assert_ok(maml_set_metadata(m, "k000", "replacing is not adding")); /* still 256 entries */
  for (i = 0; i < 256; ++i) {
    snprintf(key, sizeof key, "k%03d", i);
    assert_ok(maml_set_metadata(m, key, NULL));
  }
  assert_keys(m, "");
  /* 256 KiB together: three full values fit, a fourth does not. */
  memset(value, 'v', 65536);
  value[65536] = '\0';
  for (i = 0; i < 4; ++i) {
    snprintf(key, sizeof key, "big%d", i);
    if (i < 3) {
      assert_ok(maml_set_metadata(m, key, value));
    } else {
      assert_error(maml_set_metadata(m, key, value), MAML_E_INVALID_ARGUMENT, "together");
    }
  }
  assert_keys(m, "big0,big1,big2");
  /* What a model holds always saves. */
  assert_ok(maml_save_buffer(m, &data, &size));
  maml_buffer_free(data);
  free(value);
  maml_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_set_get_list),
      cmocka_unit_test(test_round_trip_file),
      cmocka_unit_test(test_round_trip_buffer),
      cmocka_unit_test(test_bad_keys_and_values),
      cmocka_unit_test(test_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
