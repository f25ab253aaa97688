// The full Omniglot dataset (both official archives), decoded once per test process.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "data/omniglot.hpp"
#include "test_util.hpp"

namespace mamlpp::data::test {

inline bool have_omniglot() {
  return std::filesystem::exists(omniglot_dir() + "/images_background.zip") &&
         std::filesystem::exists(omniglot_dir() + "/images_evaluation.zip");
}

inline std::shared_ptr<const ImageDataset> full_omniglot() {
  static const auto ds = std::make_shared<const ImageDataset>(load_omniglot_folder(omniglot_dir()));
  return ds;
}

#define MAMLPP_REQUIRE_OMNIGLOT()                                                     \
  if (!::mamlpp::data::test::have_omniglot())                                          \
  GTEST_SKIP() << "Omniglot archives not found in " << ::mamlpp::data::test::omniglot_dir()

}  // namespace mamlpp::data::test
