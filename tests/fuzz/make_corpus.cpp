// Writes the fuzzers' seed corpus: real encoded files of a few small, different configs.
//   fuzz_make_corpus <directory>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/config.hpp"
#include "io/file.hpp"
#include "io/model_file.hpp"

namespace {

using namespace mamlpp;

io::ModelFile model(const Config& cfg, bool has_optimizer) {
  io::ModelFile m;
  m.config = cfg;
  m.step = 1000;
  m.has_optimizer = has_optimizer;
  const auto specs = file_tensors(cfg, has_optimizer);
  for (std::size_t k = 0; k < specs.size(); ++k) {
    io::NamedArray a{specs[k].name, io::file_dtype(cfg), specs[k].shape, {}};
    const std::size_t item = io::dtype_size(a.dtype);
    a.bytes.resize(static_cast<std::size_t>(specs[k].numel()) * item);
    for (std::size_t i = 0; i * item < a.bytes.size(); ++i) {
      // Positive everywhere, so running_var and adam.v are valid too. Host is little-endian.
      const double v = 0.1 + std::fabs(std::sin(0.7 * static_cast<double>(i + 3 * k)));
      const float f = static_cast<float>(v);
      std::memcpy(&a.bytes[i * item], item == 4 ? static_cast<const void*>(&f) : &v, item);
    }
    m.tensors.push_back(std::move(a));
  }
  return m;
}

Config tiny() {
  Config c;
  c.n_way = 2;
  c.image_height = c.image_width = 4;
  c.num_stages = 1;
  c.num_filters = 2;
  c.inner_steps = 2;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  Config f64 = tiny();
  f64.dtype = DType::Float64;
  f64.learn_inner_lr = false;
  Config strided = tiny();
  strided.max_pool = false;
  strided.num_stages = 2;
  strided.image_channels = 3;
  strided.n_way = 3;
  strided.per_step_bn = false;
  struct Seed {
    const char* name;
    Config cfg;
    bool optimizer;
  } seeds[] = {{"tiny_resume.maml", tiny(), true},
               {"tiny_inference.maml", tiny(), false},
               {"f64_fixed_lr.maml", f64, true},
               {"strided_3way.maml", strided, false}};
  try {
    for (const Seed& s : seeds) {
      const auto bytes = io::encode_model_file(model(s.cfg, s.optimizer));
      io::atomic_write_file(dir + "/" + s.name, bytes);
      std::printf("%s: %zu bytes\n", s.name, bytes.size());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
