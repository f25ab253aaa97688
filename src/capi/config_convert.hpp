// maml_config <-> mamlpp::Config. The only place that knows both.
#pragma once

#include "core/config.hpp"
#include "mamlpp/mamlpp.h"

namespace mamlpp::capi {

// The size of the version 1.0 maml_config: the smallest struct_size accepted.
constexpr size_t kConfigV1Size = sizeof(maml_config);

maml_config default_c_config();
Config from_c(const maml_config& c);
maml_config to_c(const Config& c);

// Writes c into a caller's struct of out->struct_size bytes (at least the version 1.0 size).
void write_config(const Config& c, maml_config* out);

}  // namespace mamlpp::capi
