// Small real model files for the io tests: tiny configs, tensors filled with deterministic
// values, and helpers to rebuild a file with one thing changed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/config.hpp"
#include "common/error.hpp"
#include "io/model_file.hpp"
#include "io/safetensors.hpp"

namespace mamlpp::io::test {

// 1 stage, 2 filters, 2-way, 1x4x4 images, 2 inner steps: a complete file of about 4 KB.
Config tiny_config();

// A model for cfg whose every value is a deterministic function of (seed, tensor, element);
// running_var and adam.v positive, everything finite.
ModelFile make_model(const Config& cfg, bool has_optimizer, uint32_t seed = 1, int64_t step = 42);

// encode_model_file(make_model(tiny_config(), has_optimizer)).
std::vector<uint8_t> tiny_file(bool has_optimizer = true);

// Little-endian element bytes.
std::vector<uint8_t> f32_bytes(const std::vector<float>& v);
std::vector<uint8_t> f64_bytes(const std::vector<double>& v);

// A mutable copy of a parsed file: edit it, then build() writes it again with write_safetensors.
struct EditableFile {
  struct Tensor {
    std::string name;
    TensorDtype dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Tensor> tensors;
  std::map<std::string, std::string> metadata;

  explicit EditableFile(const std::vector<uint8_t>& file);
  Tensor& tensor(const std::string& name);
  void remove(const std::string& name);
  std::vector<uint8_t> build() const;
};

// 8-byte length + header text (as given, no padding) + data: for hand-crafted layouts.
std::vector<uint8_t> raw_file(const std::string& header, const std::vector<uint8_t>& data = {});

// Runs f; the test fails unless it throws mamlpp::Error of `kind` whose message contains needle.
void expect_error(const std::function<void()>& f, ErrorKind kind, const std::string& needle);
inline void expect_format_error(const std::function<void()>& f, const std::string& needle) {
  expect_error(f, ErrorKind::Format, needle);
}

// The message of the Format error decode_model_file throws for bytes ("" and a test failure if
// it does not throw one).
std::string decode_error(const std::vector<uint8_t>& bytes);

}  // namespace mamlpp::io::test
