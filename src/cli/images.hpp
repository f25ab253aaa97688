// Image files for `predict` and `adapt`: decoded with src/data's PNG/JPEG decoder, converted to the
// model's channels and size, scaled to [0, 1] and preprocessed the way the model's training data
// was (inverted for Omniglot, mean/std for normalised folders).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"
#include "data/resize.hpp"

namespace mamlpp::cli {

struct Preprocess {
  data::ResizeFilter filter = data::ResizeFilter::Bilinear;
  bool invert = false;  // v -> 1 - v (Omniglot: dark ink on white paper becomes 1 on 0)
  std::vector<float> mean, std;
  std::string source;   // where these settings came from, for the report
};

// The model-file metadata key under which `mamlpp train` stores the preprocessing (docs/CLI.md):
// a JSON object {"version":1,"dataset":…,"resize":"nearest"|"bilinear","invert":bool,
// "mean":[…],"std":[…]}.
inline constexpr const char* kPreprocessingKey = "mamlpp.preprocessing";

// The preprocessing a training run's canonical settings (state.json's "config") imply.
Preprocess preprocess_from_settings(const nlohmann::json& settings);
// The kPreprocessingKey value for the run's settings.
std::string preprocessing_metadata(const nlohmann::json& settings);
// Parses a kPreprocessingKey value (unknown members ignored: a later version may add some).
// Throws CliError(kExitModel) naming the key and what is wrong.
Preprocess preprocess_from_metadata(const std::string& text);

// Appends shape.numel() floats (CHW) for the image at `path` to `out`. Errors are
// CliError(kExitData) naming the file: missing, unreadable, or not a PNG/JPEG that decodes.
void load_image(const std::string& path, const data::ImageShape& shape, const Preprocess& pre,
                std::vector<float>& out);

// Image files directly inside `dir` (.png, .jpg, .jpeg in any case), sorted by name.
std::vector<std::string> list_images(const std::string& dir);

}  // namespace mamlpp::cli
