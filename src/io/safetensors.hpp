// The safetensors container (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON naming every tensor's dtype, shape and byte range, then the
// raw little-endian tensor bytes. This layer knows nothing of models; model_file.hpp builds the
// libmamlpp file on top of it. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/dtype.hpp"

namespace mamlpp::io {

// A tensor inside a buffer: the writer's input and the reader's output. `data` points into memory
// owned by someone else; it need not be aligned, so read elements with memcpy.
struct TensorView {
  std::string name;
  TensorDtype dtype = TensorDtype::F32;
  std::vector<int64_t> shape;  // empty = a scalar (one element)
  const uint8_t* data = nullptr;
  std::size_t size = 0;  // bytes: numel(shape) * dtype_size(dtype)
};

struct SafetensorsFile {
  std::vector<TensorView> tensors;              // in data order (ascending byte offsets)
  std::map<std::string, std::string> metadata;  // the "__metadata__" object; empty if absent
  std::size_t data_begin = 0;                   // offset of the tensor bytes: 8 + N
};

// The safetensors limit on N; also what keeps a hostile length from driving allocation.
constexpr std::uint64_t kMaxHeaderSize = 100u << 20;
// Limits that keep shapes meaningful; any real tensor is far below them.
constexpr std::size_t kMaxRank = 32;
constexpr std::uint64_t kMaxDim = std::uint64_t{1} << 53;  // integers JSON readers keep exactly
// The default limit on the number of tensors in a header. Readers of a known format pass their
// own, smaller one (model_file.hpp: what the largest valid config needs), so that a header listing
// tens of thousands of tensors is refused as soon as the list passes the limit.
constexpr std::size_t kDefaultMaxTensors = 1u << 16;

// What a reader accepts at most. Readers of a known format pass tighter limits than these
// defaults (model_file.hpp), so that a hostile header is refused from its length or as soon as
// its tensor list passes the limit, instead of being parsed in full.
struct SafetensorsLimits {
  std::uint64_t max_header = kMaxHeaderSize;  // N, the header's length in bytes
  std::size_t max_tensors = kDefaultMaxTensors;
  std::string context;  // appended to messages about these limits, e.g. " for a libmamlpp file"
};

// The checks on the 8-byte header length N that need no more than the first 8 bytes and the
// total size: at least 8 bytes, N <= limits.max_header, 8 + N <= size. Throws format_error.
// parse_safetensors makes them first; file readers make them before reading the rest.
void check_safetensors_length(const uint8_t* data, std::size_t available, std::uint64_t size,
                              const SafetensorsLimits& limits = {});

// Validates the whole buffer and returns views into it (valid while `data` lives). Throws
// mamlpp::format_error naming the first problem: a header length past the end or over
// limits.max_header; a header that is not one JSON object (starting with '{', padded only with
// spaces), has invalid UTF-8 or duplicate keys; an entry that is not an object with exactly
// "dtype", "shape" and "data_offsets"; an unknown dtype; negative, fractional or huge numbers; a
// size that overflows or disagrees with the byte range; offsets that are reversed, out of range,
// misaligned to the element size (empty tensors excepted), overlapping, or leave holes or trailing bytes (the data section
// must be covered exactly); a non-object "__metadata__" or a non-string metadata value; more than
// limits.max_tensors tensors (or metadata keys). Time and memory are linear in the header's
// length.
SafetensorsFile parse_safetensors(const uint8_t* data, std::size_t size,
                                  const SafetensorsLimits& limits = {});

// Only the header length, the JSON and its "__metadata__" string values, without checking any
// tensor. For reading the version of a file that parse_safetensors refused: a newer format may
// legitimately break today's rules. Throws format_error when even that much is unreadable.
std::map<std::string, std::string> parse_safetensors_metadata(
    const uint8_t* data, std::size_t size, const SafetensorsLimits& limits = {});

// Serialises tensors in the order given, with contiguous byte ranges from 0, and the metadata
// (written as "__metadata__" first, keys sorted; omitted when empty). The JSON is padded with
// spaces to a multiple of 8 bytes so the data section starts 8-aligned. Equal inputs give equal
// bytes. Throws mamlpp::invalid_argument for an empty, reserved or duplicate name, a size that
// disagrees with the shape, a negative dimension, a tensor whose offset would not be a multiple of
// its element size (give larger elements first), or a string that is not valid UTF-8.
std::vector<uint8_t> write_safetensors(const std::vector<TensorView>& tensors,
                                       const std::map<std::string, std::string>& metadata);

}  // namespace mamlpp::io
