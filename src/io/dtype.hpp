// Element types of safetensors tensors. The format names them by string ("F32"); the model file
// only ever writes F32 and F64, but the codec knows every standard safetensors dtype so that it
// can validate (and report) files written by other tools. Torch-free.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace mamlpp::io {

enum class TensorDtype {
  BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64,
};

// The safetensors spelling, e.g. "F32".
const char* dtype_name(TensorDtype t);
// Bytes per element.
std::size_t dtype_size(TensorDtype t);
// The dtype spelled `name`, or nothing when it is not a safetensors dtype we know.
std::optional<TensorDtype> parse_dtype(const std::string& name);

}  // namespace mamlpp::io
