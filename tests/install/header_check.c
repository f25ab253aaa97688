/* The public header compiles on its own, twice (include guard), as strict C. */
#include <mamlpp/mamlpp.h>
#include <mamlpp/mamlpp.h>

int main(void) {
  maml_config cfg;
  maml_tasks tasks = {sizeof(maml_tasks), 0, 0, 0, 0, 0, 0, 0, 0, 0};
  maml_metrics metrics = {sizeof(maml_metrics), 0.0f, 0.0f, 0.0f, 0, 0, 0, 0};
  maml_status (*create)(const maml_config*, maml_model**) = maml_create;
  maml_config_init(&cfg);
  return (create != 0 && cfg.struct_size == sizeof cfg && tasks.num_tasks == 0 &&
          metrics.step == 0 && MAMLPP_VERSION_NUMBER >= 10000)
             ? 0
             : 1;
}
