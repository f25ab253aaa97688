// maml_config <-> mamlpp::Config, and the frozen sizes of the version 1.0 structs. The only place
// that knows both the C struct and the C++ config; both are expanded from core/config_fields.hpp.
#pragma once

#include <cstddef>

#include "core/config.hpp"
#include "mamlpp/mamlpp.h"

namespace mamlpp::capi {

// The sizes of the structs as libmamlpp 1.0 shipped them, frozen: a program built against 1.0
// passes these as struct_size, and the library reads and writes no byte past them for it.
constexpr uint32_t kConfigV1Size = 136;
constexpr uint32_t kTasksV1Size = 48;
constexpr uint32_t kMetricsV1Size = 40;

static_assert(offsetof(maml_config, reserved1) + sizeof(int32_t) == kConfigV1Size,
              "maml_config's 1.0 fields moved: structs may only grow at the end");
static_assert(offsetof(maml_tasks, query_y) + sizeof(void*) == kTasksV1Size,
              "maml_tasks's 1.0 fields moved: structs may only grow at the end");
static_assert(offsetof(maml_metrics, epoch) + sizeof(int64_t) == kMetricsV1Size,
              "maml_metrics's 1.0 fields moved: structs may only grow at the end");
static_assert(offsetof(maml_config, reserved3) + sizeof(int32_t) == 208 &&
                  offsetof(maml_tasks, query_t) + sizeof(void*) == 64,
              "maml_config's and maml_tasks's 1.3 fields end at 208 and 64 bytes, with no implicit padding");
static_assert(MAML_MAX_HIDDEN_LAYERS == kMaxHiddenLayers &&
                  sizeof(maml_config{}.hidden_sizes) == kMaxHiddenLayers * sizeof(int32_t),
              "maml_config.hidden_sizes, MAML_MAX_HIDDEN_LAYERS and core's HiddenSizes must agree");
static_assert(sizeof(maml_config) >= kConfigV1Size && sizeof(maml_tasks) >= kTasksV1Size &&
                  sizeof(maml_metrics) >= kMetricsV1Size,
              "structs only grow");

// Fills the first `size` bytes of *cfg with the defaults (size >= kConfigV1Size; bytes of fields
// this library does not know are zeroed).
void init_config(maml_config* cfg, uint32_t size);

// A caller's struct (cfg->struct_size bytes) as a Config: fields it lacks take their defaults,
// fields this library lacks must be zero. Booleans must be 0 or 1; validate() does the rest.
Config read_config(const maml_config* cfg, const char* arg);

// Writes c into a caller's struct of out->struct_size bytes (at least kConfigV1Size), writing
// nothing past it.
void write_config(const Config& c, maml_config* out);

}  // namespace mamlpp::capi
