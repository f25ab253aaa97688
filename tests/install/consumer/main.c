/* A program that uses an installed libmamlpp: prints the version, creates and frees a model. */
#include <mamlpp/mamlpp.h>

#include <stdio.h>

int main(void) {
  maml_config cfg;
  maml_model* model = NULL;
  int64_t parameters = 0;
  maml_status s;
  if (maml_abi_version() != MAMLPP_ABI_VERSION) {
    fprintf(stderr, "ABI mismatch: header %d, library %d\n", MAMLPP_ABI_VERSION, (int)maml_abi_version());
    return 1;
  }
  printf("libmamlpp %s (header %s, ABI %d)\n", maml_version_string(), MAMLPP_VERSION_STRING,
         (int)maml_abi_version());
  maml_config_init(&cfg);
  cfg.image_height = cfg.image_width = 16;
  cfg.num_stages = 2;
  cfg.num_filters = 4;
  cfg.device_type = MAML_DEVICE_CPU;
  s = maml_create(&cfg, &model);
  if (s != MAML_OK) {
    fprintf(stderr, "maml_create: %s: %s\n", maml_status_string(s), maml_last_error());
    return 1;
  }
  s = maml_num_parameters(model, &parameters);
  if (s != MAML_OK) {
    fprintf(stderr, "maml_num_parameters: %s: %s\n", maml_status_string(s), maml_last_error());
    maml_free(model);
    return 1;
  }
  maml_free(model);
  printf("created and freed a model with %lld parameters\n", (long long)parameters);
  return 0;
}
