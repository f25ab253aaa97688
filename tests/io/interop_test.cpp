// Another reader agrees: a Python standard-library script parses a file this library wrote.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/file.hpp"
#include "test_model.hpp"

namespace mamlpp::io::test {
namespace {

TEST(Interop, PythonStandardLibraryReadsTheFile) {
  const std::string python = MAMLPP_TEST_PYTHON3;
  if (python.empty()) GTEST_SKIP() << "no python3 found at configure time";
  const std::string dir = ::testing::TempDir();
  const std::string stem = dir + "mamlpp_interop_" + std::to_string(::getpid());

  for (DType dtype : {DType::Float32, DType::Float64}) {
    Config cfg = tiny_config();
    cfg.dtype = dtype;
    const ModelFile model = make_model(cfg, true, 9, 77);
    atomic_write_file(stem + ".maml", encode_model_file(model));

    nlohmann::json expect;
    expect["metadata"] = {{"format", "libmamlpp"}, {"format_version", "1.3"},
                          {"step", "77"},          {"has_optimizer", "true"},
                          {"dtype", dtype == DType::Float64 ? "float64" : "float32"}};
    expect["n_way"] = cfg.n_way;
    expect["tensors"] = nlohmann::json::array();
    for (const auto& t : model.tensors)
      expect["tensors"].push_back({{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}});
    // The head's weights as Python will decode them: floats widened to double exactly.
    const NamedArray& head = model.tensors[2];
    ASSERT_EQ(head.name, "backbone.head.weight");
    std::vector<double> values;
    const std::size_t item = dtype_size(head.dtype);
    for (std::size_t i = 0; i < head.bytes.size(); i += item) {
      if (item == 4) {
        float f;
        std::memcpy(&f, &head.bytes[i], 4);
        values.push_back(f);
      } else {
        double d;
        std::memcpy(&d, &head.bytes[i], 8);
        values.push_back(d);
      }
    }
    expect["check"] = {{"name", head.name}, {"values", values}};
    std::ofstream(stem + ".json") << expect.dump();

    const std::string cmd = "'" + python + "' '" MAMLPP_TEST_IO_DIR "/read_model_file.py' '" +
                            stem + ".maml' '" + stem + ".json'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  std::remove((stem + ".maml").c_str());
  std::remove((stem + ".json").c_str());
}

}  // namespace
}  // namespace mamlpp::io::test
