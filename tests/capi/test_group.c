/*
 * Process groups through the ABI (maml_group_*): every argument checked with a message naming it,
 * output handles NULL on error, torchrun's environment read and refused by name, and a group of
 * one process, where attaching and the collective step work and a refused step changes nothing.
 * Several processes: tests/dist.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_util.h"

#define BOGUS_GROUP ((maml_group*)(uintptr_t)0x1)

static int free_port(void) {
  struct sockaddr_in a;
  socklen_t n = sizeof a;
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s, (struct sockaddr*)&a, sizeof a), 0);
  assert_int_equal(getsockname(s, (struct sockaddr*)&a, &n), 0);
  close(s);
  return ntohs(a.sin_port);
}

/* The library without c10d's Gloo says so; the rest of a test is then skipped (CI has Gloo). */
static int unsupported(maml_status s) {
  if (s != MAML_E_UNSUPPORTED) return 0;
  printf("skipped: %s\n", maml_last_error());
  return 1;
}

static void test_bad_arguments(void** state) {
  maml_group* g = BOGUS_GROUP;
  (void)state;
  assert_error(maml_group_join(NULL, 29500, 0, 1, -1, 0, &g), MAML_E_INVALID_ARGUMENT, "master_addr");
  assert_null(g);
  assert_error(maml_group_join("127.0.0.1", 29500, 0, 1, -1, 0, NULL), MAML_E_INVALID_ARGUMENT, "out");
  g = BOGUS_GROUP;
  assert_error(maml_group_join("127.0.0.1", 0, 0, 1, -1, 0, &g), MAML_E_INVALID_ARGUMENT, "port");
  assert_null(g);
  assert_error(maml_group_join("127.0.0.1", 70000, 0, 1, -1, 0, &g), MAML_E_INVALID_ARGUMENT, "port");
  assert_error(maml_group_join("127.0.0.1", 29500, 2, 2, -1, 0, &g), MAML_E_INVALID_ARGUMENT, "rank 2");
  assert_error(maml_group_join("127.0.0.1", 29500, -1, 2, -1, 0, &g), MAML_E_INVALID_ARGUMENT, "rank -1");
  assert_error(maml_group_join("127.0.0.1", 29500, 0, 0, -1, 0, &g), MAML_E_INVALID_ARGUMENT, "world size");
  assert_error(maml_group_join("127.0.0.1", 29500, 0, 1, -5, 0, &g), MAML_E_INVALID_ARGUMENT, "local rank");
  assert_error(maml_group_join("127.0.0.1", 29500, 0, 1, -1, -1.0, &g), MAML_E_INVALID_ARGUMENT, "timeout");
  assert_error(maml_group_join("127.0.0.1", 29500, 0, 1, -1, 1e300, &g), MAML_E_INVALID_ARGUMENT, "timeout");
  assert_error(maml_group_join("127.0.0.1", 29500, 0, 1, -1, NAN, &g), MAML_E_INVALID_ARGUMENT, "timeout");
  assert_error(maml_group_join("", 29500, 0, 1, -1, 0, &g), MAML_E_INVALID_ARGUMENT, "master address");
  assert_null(g);
  assert_error(maml_group_rank(NULL, NULL, NULL, NULL), MAML_E_INVALID_ARGUMENT, "group");
  assert_error(maml_group_attach(NULL, NULL), MAML_E_INVALID_ARGUMENT, "model");
  assert_error(maml_group_detach(NULL), MAML_E_INVALID_ARGUMENT, "model");
  assert_error(maml_group_allreduce_sum(NULL, NULL, 1), MAML_E_INVALID_ARGUMENT, "group");
  maml_group_free(NULL);
}

static void test_environment(void** state) {
  maml_group* g = BOGUS_GROUP;
  (void)state;
  unsetenv("RANK");
  setenv("WORLD_SIZE", "1", 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", "29500", 1);
  assert_error(maml_group_join_env(0, &g), MAML_E_INVALID_ARGUMENT, "RANK");
  assert_null(g);
  setenv("RANK", "zero", 1);
  assert_error(maml_group_join_env(0, &g), MAML_E_INVALID_ARGUMENT, "RANK='zero'");
  setenv("RANK", "0", 1);
  unsetenv("MASTER_PORT");
  assert_error(maml_group_join_env(0, &g), MAML_E_INVALID_ARGUMENT, "MASTER_PORT");
  setenv("MASTER_PORT", "99999999999", 1);
  assert_error(maml_group_join_env(0, &g), MAML_E_INVALID_ARGUMENT, "MASTER_PORT");
  setenv("MASTER_PORT", "29500", 1);
  setenv("RANK", "3", 1);
  assert_error(maml_group_join_env(0, &g), MAML_E_INVALID_ARGUMENT, "rank 3");
  unsetenv("RANK");
  unsetenv("WORLD_SIZE");
  unsetenv("MASTER_ADDR");
  unsetenv("MASTER_PORT");
  assert_null(g);
}

static void test_group_of_one(void** state) {
  maml_group* g = NULL;
  maml_model* m;
  maml_status s;
  int32_t rank = -1, world = -1, local = -1;
  double values[3] = {1.5, -2.0, 1e300};
  test_batch b = make_batch(2, 1, 2, 5), bad;
  maml_metrics metrics;
  snapshot snap;
  (void)state;
  s = maml_group_join("127.0.0.1", free_port(), 0, 1, 4, 30, &g);
  if (unsupported(s)) {
    free_batch(&b);
    return;
  }
  assert_ok(s);
  assert_ok(maml_group_rank(g, &rank, &world, &local));
  assert_int_equal(rank, 0);
  assert_int_equal(world, 1);
  assert_int_equal(local, 4);
  assert_ok(maml_group_allreduce_sum(g, values, 3));
  assert_true(values[0] == 1.5 && values[1] == -2.0 && values[2] == 1e300);
  assert_error(maml_group_allreduce_sum(g, values, 0), MAML_E_INVALID_ARGUMENT, "count");
  assert_error(maml_group_allreduce_sum(g, NULL, 1), MAML_E_INVALID_ARGUMENT, "values");

  m = new_small_model();
  assert_ok(maml_group_attach(m, g));
  maml_group_free(g); /* the model keeps the membership */
  memset(&metrics, 0, sizeof metrics);
  metrics.struct_size = sizeof metrics;
  assert_ok(maml_meta_train_step(m, &b.t, &metrics));
  assert_int_equal(metrics.step, 1);
  /* A refused step on the only rank changes nothing. */
  snap = take_snapshot(m);
  bad = make_batch(2, 1, 2, 6);
  bad.support_x[7] = NAN;
  assert_error(maml_meta_train_step(m, &bad.t, &metrics), MAML_E_NUMERICAL, "every rank");
  assert_unchanged(m, &snap);
  bad.support_y[0] = 99;
  bad.support_x[7] = 0.5f;
  assert_error(maml_meta_train_step(m, &bad.t, &metrics), MAML_E_INVALID_ARGUMENT, "every rank");
  assert_unchanged(m, &snap);
  assert_ok(maml_group_detach(m));
  assert_ok(maml_group_detach(m)); /* not attached: not an error */
  assert_ok(maml_meta_train_step(m, &b.t, &metrics));
  assert_int_equal(metrics.step, 2);
  free_snapshot(&snap);
  free_batch(&bad);
  free_batch(&b);
  maml_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_environment),
      cmocka_unit_test(test_group_of_one),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
