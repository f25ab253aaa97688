#include "cli/images.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "cli/errors.hpp"
#include "data/file_bytes.hpp"
#include "data/image_decode.hpp"

namespace mamlpp::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

Preprocess preprocess_from_settings(const json& c) {
  Preprocess p;
  const std::string dataset = c.value("dataset", "synthetic");
  const std::string resize = c.value("resize", "auto");
  p.filter = (resize == "nearest" || (resize == "auto" && dataset == "omniglot")) ? data::ResizeFilter::Nearest
                                                                                   : data::ResizeFilter::Bilinear;
  p.invert = dataset == "omniglot" && !c.value("reference_pixels", false);
  if (dataset == "folder") {
    p.mean = c.value("mean", std::vector<float>{});
    p.std = c.value("std", std::vector<float>{});
  }
  p.source = "dataset " + dataset;
  return p;
}

std::string preprocessing_metadata(const json& settings) {
  const Preprocess p = preprocess_from_settings(settings);
  json j = json::object();
  j["version"] = 1;
  j["dataset"] = settings.value("dataset", "synthetic");
  j["resize"] = p.filter == data::ResizeFilter::Nearest ? "nearest" : "bilinear";
  j["invert"] = p.invert;
  j["mean"] = p.mean;
  j["std"] = p.std;
  return j.dump();
}

Preprocess preprocess_from_metadata(const std::string& text) {
  const std::string what = std::string("metadata \"") + kPreprocessingKey + "\": ";
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception&) {
    throw model_error(what + "not valid JSON");
  }
  if (!j.is_object()) throw model_error(what + "not a JSON object");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() != 1)
    throw model_error(what + "\"version\" must be 1 (written by a newer mamlpp? upgrade it)");
  Preprocess p;
  const json resize = j.value("resize", json());
  if (resize != "nearest" && resize != "bilinear")
    throw model_error(what + "\"resize\" must be \"nearest\" or \"bilinear\"");
  p.filter = resize == "nearest" ? data::ResizeFilter::Nearest : data::ResizeFilter::Bilinear;
  if (!j.contains("invert") || !j["invert"].is_boolean()) throw model_error(what + "\"invert\" must be true or false");
  p.invert = j["invert"].get<bool>();
  for (const char* key : {"mean", "std"}) {
    const json v = j.value(key, json::array());
    if (!v.is_array()) throw model_error(what + "\"" + key + "\" must be an array of numbers");
    std::vector<float>& out = std::string(key) == "mean" ? p.mean : p.std;
    for (const json& x : v) {
      if (!x.is_number()) throw model_error(what + "\"" + key + "\" must be an array of numbers");
      out.push_back(x.get<float>());
    }
  }
  if (p.mean.size() != p.std.size()) throw model_error(what + "\"mean\" and \"std\" differ in length");
  for (float s : p.std)
    if (!(s > 0)) throw model_error(what + "\"std\" values must be > 0");
  const json dataset = j.value("dataset", json("unknown"));
  p.source = std::string("the model file's metadata (dataset ") + (dataset.is_string() ? dataset.get<std::string>() : "?") + ")";
  return p;
}

void load_image(const std::string& path, const data::ImageShape& shape, const Preprocess& pre,
                std::vector<float>& out) {
  data::Image8 img;
  with_data_errors(path, [&] {
    const std::vector<uint8_t> bytes = data::read_file_bytes(path);
    if (!data::has_png_signature(bytes.data(), bytes.size()) && !data::has_jpeg_signature(bytes.data(), bytes.size()))
      throw data_error(path + ": not a PNG or JPEG image (unrecognised signature); convert it to PNG");
    data::decode_image(bytes.data(), bytes.size(), path, img);
  });
  const size_t numel = static_cast<size_t>(shape.numel());
  const size_t at = out.size();
  out.resize(at + numel);
  float* dst = out.data() + at;
  with_data_errors(path, [&] { data::to_float_chw(img, shape, pre.filter, dst); });
  const size_t plane = static_cast<size_t>(shape.height) * static_cast<size_t>(shape.width);
  for (size_t c = 0; c < static_cast<size_t>(shape.channels); ++c) {
    float* p = dst + c * plane;
    for (size_t i = 0; i < plane; ++i) {
      float v = pre.invert ? 1.0f - p[i] : p[i];
      if (!pre.mean.empty()) v = (v - pre.mean[c]) / pre.std[c];
      p[i] = v;
    }
  }
}

std::vector<std::string> list_images(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") files.push_back(e.path().string());
  }
  if (ec) throw data_error(dir + ": cannot list the folder (" + ec.message() + ")");
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace mamlpp::cli
