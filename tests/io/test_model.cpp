#include "test_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "core/layout.hpp"

namespace mamlpp::io::test {

Config tiny_config() {
  Config c;
  c.n_way = 2;
  c.image_channels = 1;
  c.image_height = 4;
  c.image_width = 4;
  c.num_stages = 1;
  c.num_filters = 2;
  c.inner_steps = 2;
  c.eval_inner_steps = 3;
  c.seed = 7;
  return c;
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  for (std::size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int b = 0; b < 4; ++b) out[4 * i + b] = static_cast<uint8_t>(u >> (8 * b));
  }
  return out;
}

std::vector<uint8_t> f64_bytes(const std::vector<double>& v) {
  std::vector<uint8_t> out(v.size() * 8);
  for (std::size_t i = 0; i < v.size(); ++i) {
    uint64_t u;
    std::memcpy(&u, &v[i], 8);
    for (int b = 0; b < 8; ++b) out[8 * i + b] = static_cast<uint8_t>(u >> (8 * b));
  }
  return out;
}

ModelFile make_model(const Config& cfg, bool has_optimizer, uint32_t seed, int64_t step) {
  ModelFile m;
  m.config = cfg;
  m.step = step;
  m.has_optimizer = has_optimizer;
  const auto specs = file_tensors(cfg, has_optimizer);
  for (std::size_t k = 0; k < specs.size(); ++k) {
    const auto& spec = specs[k];
    const bool positive = spec.name.find("running_var") != std::string::npos ||
                          spec.name.rfind("adam.v.", 0) == 0;
    std::vector<double> values(static_cast<std::size_t>(spec.numel()));
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double v = std::sin(0.37 * static_cast<double>(i) + 1.3 * static_cast<double>(k) + seed);
      values[i] = positive ? std::fabs(v) + 0.1 : v;
    }
    NamedArray a;
    a.name = spec.name;
    a.shape = spec.shape;
    a.dtype = file_dtype(cfg);
    if (a.dtype == TensorDtype::F32)
      a.bytes = f32_bytes(std::vector<float>(values.begin(), values.end()));
    else
      a.bytes = f64_bytes(values);
    m.tensors.push_back(std::move(a));
  }
  return m;
}

std::vector<uint8_t> tiny_file(bool has_optimizer) {
  return encode_model_file(make_model(tiny_config(), has_optimizer));
}

EditableFile::EditableFile(const std::vector<uint8_t>& file) {
  const SafetensorsFile sf = parse_safetensors(file.data(), file.size());
  metadata = sf.metadata;
  for (const auto& t : sf.tensors)
    tensors.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.size)});
}

EditableFile::Tensor& EditableFile::tensor(const std::string& name) {
  for (auto& t : tensors)
    if (t.name == name) return t;
  throw std::logic_error("no tensor " + name);
}

void EditableFile::remove(const std::string& name) {
  for (auto it = tensors.begin(); it != tensors.end(); ++it)
    if (it->name == name) {
      tensors.erase(it);
      return;
    }
  throw std::logic_error("no tensor " + name);
}

std::vector<uint8_t> EditableFile::build() const {
  std::vector<TensorView> views;
  for (const auto& t : tensors) views.push_back({t.name, t.dtype, t.shape, t.bytes.data(), t.bytes.size()});
  return write_safetensors(views, metadata);
}

std::vector<uint8_t> raw_file(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + static_cast<std::ptrdiff_t>(header.size()));
  return out;
}

void expect_error(const std::function<void()>& f, ErrorKind kind, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one containing \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << needle << "\"";
  }
}

std::string decode_error(const std::vector<uint8_t>& bytes) {
  try {
    decode_model_file(bytes.data(), bytes.size());
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Format) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "decode_model_file accepted the file";
  return "";
}

}  // namespace mamlpp::io::test
