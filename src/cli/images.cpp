#include "cli/images.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "cli/errors.hpp"
#include "data/file_bytes.hpp"
#include "data/image_decode.hpp"

namespace mamlpp::cli {
namespace fs = std::filesystem;

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
