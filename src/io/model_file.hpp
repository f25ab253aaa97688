// The libmamlpp meta-initialisation file: a safetensors file whose tensors are exactly those the
// config's layout names and whose "__metadata__" carries the config, the step counter and the
// versions. docs/FILE_FORMAT.md is the specification; this is its only implementation.
// Torch-free: the core converts between these byte arrays and tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/layout.hpp"
#include "io/dtype.hpp"
#include "io/safetensors.hpp"
#include "io/user_metadata.hpp"

namespace mamlpp::io {

// One tensor's contents: row-major little-endian elements.
struct NamedArray {
  std::string name;
  TensorDtype dtype = TensorDtype::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

struct ModelFile {
  Config config;
  int64_t step = 0;            // meta-train steps taken (Adam's step count)
  bool has_optimizer = false;  // true: the adam.m.* / adam.v.* moments are present
  // decode: in file order (file_tensors() order, core/layout.hpp). encode: any order; written in that order.
  std::vector<NamedArray> tensors;
  // User metadata (io/user_metadata.hpp): encode checks every entry and the limits and writes
  // them; decode returns every metadata key outside the library's that is a valid user entry
  // (keys of other tools that break the rules are ignored, as 1.0 readers ignored every
  // unknown key; future library keys, "libmamlpp.*", too).
  UserMetadata user_metadata;
  // Set by decode from the file; encode always writes this library's versions.
  std::string format_version;
  std::string library_version;
};

// The dtype every tensor of a model with this config has: F32 or F64.
TensorDtype file_dtype(const Config& cfg);

// The most tensors a valid file can hold: file_tensors() of the largest layout, with the
// optimiser. decode_model_file refuses a header that lists more as soon as it passes this.
std::size_t max_model_file_tensors();

// The longest header a libmamlpp file may have: 1 MiB, over 20 times what the largest layout's
// tensor list and config need, with room for extra metadata. Tighter than safetensors' 100 MiB
// so that no header, however hostile, takes the parser more than milliseconds.
constexpr std::uint64_t kMaxModelHeaderSize = std::uint64_t{1} << 20;

// The safetensors limits of a libmamlpp file: kMaxModelHeaderSize, max_model_file_tensors().
const SafetensorsLimits& model_file_limits();

// The bytes of the model file at `path`, for decode_model_file: read_safetensors_file with
// model_file_limits(), so that a FIFO, a device, or a file whose header length is impossible is
// refused before its contents are read. Throws Error (Io or Format), its message naming the path.
std::vector<uint8_t> read_model_file(const std::string& path);

// Serialises; deterministic (equal input, equal bytes). Throws invalid_argument for an invalid
// config, a negative step, missing, unexpected or duplicate tensors, a wrong dtype, shape or byte
// count, or user metadata that breaks the rules of io/user_metadata.hpp; numerical_error naming the tensor for a NaN
// or infinity, a negative running_var or adam.v value (such a file could never be loaded).
std::vector<uint8_t> encode_model_file(const ModelFile& file);

// Parses and validates everything: the safetensors layout, the format name and version (a newer
// major is refused naming both versions), the config (mamlpp::validate), every tensor's presence,
// dtype and shape against the config's layout, and that all values are finite (running_var and
// adam.v also >= 0), and that the user metadata holds at most kMaxMetadataEntries entries of
// kMaxMetadataTotalBytes. Throws mamlpp::Error of kind Format, naming what is wrong, and nothing else
// but std::bad_alloc; memory use is proportional to size (the header's JSON, the tensor copies).
ModelFile decode_model_file(const uint8_t* data, std::size_t size);

}  // namespace mamlpp::io
