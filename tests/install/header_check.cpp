// The public header compiles on its own, twice (include guard), as strict C++, with C linkage.
#include <mamlpp/mamlpp.h>
#include <mamlpp/mamlpp.h>

static_assert(sizeof(maml_status) == 4, "maml_status is int32_t");

int main() {
  maml_config cfg;
  maml_config_init(&cfg);
  maml_tasks tasks = {};
  tasks.struct_size = sizeof(maml_tasks);
  maml_metrics metrics = {};
  metrics.struct_size = sizeof(maml_metrics);
  maml_status (*create)(const maml_config*, maml_model**) = &maml_create;
  return (create != nullptr && cfg.struct_size == sizeof cfg && tasks.num_tasks == 0 &&
          metrics.step == 0 && MAMLPP_VERSION_NUMBER >= 10000)
             ? 0
             : 1;
}
