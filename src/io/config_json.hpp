// The model config as the JSON text stored in a file's "config" metadata value: one flat object
// whose keys are the maml_config field names (struct_size excluded), in maml_config's order.
// Integers and enums are JSON integers (enums by their MAML_* value, booleans 0/1), floats the
// shortest decimal that reads back as the same float, seed an unsigned 64-bit integer.
// Torch-free.
#pragma once

#include <string>

#include "core/config.hpp"
#include "io/format_version.hpp"

namespace mamlpp::io {

// Deterministic: equal configs give equal text. Throws invalid_argument on a non-finite float
// (JSON cannot hold one; validate() refuses them anyway).
std::string config_to_json(const Config& cfg);

// Reads text written by config_to_json of a file of version `file_version`. Every field that
// version has is required; a field added in a later minor takes its default when absent. Keys
// this library does not know are an error in files of this or an older version and ignored in
// files of a newer minor. Checks JSON types and ranges only: the caller runs validate(). Throws
// format_error naming the field.
Config config_from_json(const std::string& text, FormatVersion file_version);

}  // namespace mamlpp::io
