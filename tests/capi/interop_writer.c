/*
 * Writes what an independent reader checks (tests/capi/check_interop.py): a model file saved
 * through the C ABI after a few training steps, and, as JSON, what the ABI itself reports about
 * the model: the adapted tensor names, the inner-rate table (maml_get_inner_lrs) and the config.
 *   capi_interop_writer OUT_DIR  ->  OUT_DIR/interop.maml, OUT_DIR/interop.json
 */
#include "test_util.h"

int main(int argc, char** argv) {
  char path[1024];
  FILE* f;
  maml_model* m;
  int32_t tensors = 0, steps = 0, i, j;
  float* rates;
  maml_config cfg;
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  m = new_small_model();
  for (i = 0; i < 3; ++i) {
    test_batch b = make_batch(2, 1, 2, 900 + (uint64_t)i);
    if (maml_meta_train_step(m, &b.t, NULL) != MAML_OK) return 1;
    free_batch(&b);
  }
  snprintf(path, sizeof path, "%s/interop.maml", argv[1]);
  if (maml_save(m, path) != MAML_OK) return 1;

  if (maml_inner_lr_shape(m, &tensors, &steps) != MAML_OK) return 1;
  rates = (float*)malloc(sizeof(float) * (size_t)(tensors * steps));
  if (rates == NULL || maml_get_inner_lrs(m, rates, (int64_t)tensors * steps) != MAML_OK) return 1;
  cfg.struct_size = sizeof cfg;
  if (maml_get_config(m, &cfg) != MAML_OK) return 1;

  snprintf(path, sizeof path, "%s/interop.json", argv[1]);
  f = fopen(path, "w");
  if (f == NULL) return 1;
  fprintf(f, "{\"n_way\": %d, \"num_stages\": %d, \"num_filters\": %d, \"inner_steps\": %d,\n",
          cfg.n_way, cfg.num_stages, cfg.num_filters, cfg.inner_steps);
  fprintf(f, " \"image\": [%d, %d, %d], \"step\": 3,\n", cfg.image_channels, cfg.image_height,
          cfg.image_width);
  fprintf(f, " \"lslr\": [\n");
  for (i = 0; i < tensors; ++i) {
    const char* name = NULL;
    if (maml_inner_lr_name(m, i, &name) != MAML_OK) return 1;
    /* %.9g round-trips a float32 exactly. */
    fprintf(f, "  {\"name\": \"%s\", \"rates\": [", name);
    for (j = 0; j < steps; ++j) fprintf(f, "%s%.9g", j ? ", " : "", (double)rates[i * steps + j]);
    fprintf(f, "]}%s\n", i + 1 < tensors ? "," : "");
  }
  fprintf(f, " ]}\n");
  if (fclose(f) != 0) return 1;
  free(rates);
  maml_free(m);
  return 0;
}
