#include "data/image_folder.hpp"

#include <algorithm>
#include <filesystem>

#include "common/error.hpp"
#include "data/file_bytes.hpp"
#include "data/image_decode.hpp"
#include "common/parallel.hpp"

namespace fs = std::filesystem;

namespace mamlpp::data {
namespace {

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

bool hidden(const fs::path& p) {
  const std::string n = p.filename().string();
  return n.empty() || n[0] == '.';
}

void check_options(const std::string& root, const ImageFolderOptions& o) {
  if (o.channels != 1 && o.channels != 3)
    throw invalid_argument(root + ": channels must be 1 (grey) or 3 (RGB), not " +
                           std::to_string(o.channels));
  if (o.height < 1 || o.width < 1)
    throw invalid_argument(root + ": image size " + std::to_string(o.height) + "x" +
                           std::to_string(o.width) + " must be positive");
  for (const auto* v : {&o.mean, &o.std})
    if (!v->empty() && static_cast<int32_t>(v->size()) != o.channels)
      throw invalid_argument(root + ": mean and std need one value per channel (" +
                             std::to_string(o.channels) + "), got " + std::to_string(v->size()));
  for (float s : o.std)
    if (!(s > 0)) throw invalid_argument(root + ": every std value must be positive");
}

}  // namespace

ImageDataset load_image_folder(const std::string& root, const ImageFolderOptions& options) {
  check_options(root, options);
  std::error_code ec;
  if (!fs::exists(root, ec)) throw io_error(root + ": image folder not found");
  if (!fs::is_directory(root, ec))
    throw io_error(root + ": not a folder; expected <root>/<class>/<image>.png|.jpg");

  std::vector<fs::path> class_dirs;
  for (const auto& e : fs::directory_iterator(root, ec))
    if (e.is_directory() && !hidden(e.path())) class_dirs.push_back(e.path());
  if (ec) throw io_error(root + ": cannot list the folder (" + ec.message() + ")");
  if (class_dirs.empty())
    throw format_error(root + ": no class folder inside; expected <root>/<class>/<image>.png|.jpg");
  std::sort(class_dirs.begin(), class_dirs.end());

  std::vector<std::string> names;
  std::vector<std::vector<fs::path>> files(class_dirs.size());
  std::vector<int32_t> counts;
  for (size_t c = 0; c < class_dirs.size(); ++c) {
    for (const auto& e : fs::directory_iterator(class_dirs[c], ec))
      if (e.is_regular_file() && !hidden(e.path()) && is_image_name(e.path()))
        files[c].push_back(e.path());
    if (ec) throw io_error(class_dirs[c].string() + ": cannot list the folder (" + ec.message() + ")");
    std::sort(files[c].begin(), files[c].end());
    names.push_back(class_dirs[c].filename().string());
    counts.push_back(static_cast<int32_t>(files[c].size()));
  }

  ImageDataset dataset(ImageShape{options.channels, options.height, options.width}, std::move(names),
                       counts, root);
  std::vector<std::pair<int32_t, int32_t>> slots;
  for (size_t c = 0; c < files.size(); ++c)
    for (size_t i = 0; i < files[c].size(); ++i)
      slots.emplace_back(static_cast<int32_t>(c), static_cast<int32_t>(i));

  const ImageShape shape = dataset.shape();
  const int64_t plane = int64_t{shape.height} * shape.width;
  parallel_for(static_cast<int64_t>(slots.size()), options.threads, [&](int64_t k, int32_t) {
    thread_local Image8 decoded;
    const auto [c, i] = slots[k];
    const std::string path = files[c][i].string();
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    decode_image(bytes.data(), bytes.size(), path, decoded);
    float* out = dataset.mutable_image(c, i);
    to_float_chw(decoded, shape, options.filter, out);
    for (int32_t ch = 0; ch < shape.channels; ++ch) {
      const float m = options.mean.empty() ? 0.0f : options.mean[ch];
      const float s = options.std.empty() ? 1.0f : options.std[ch];
      if (m == 0.0f && s == 1.0f) continue;
      float* p = out + ch * plane;
      for (int64_t j = 0; j < plane; ++j) p[j] = (p[j] - m) / s;
    }
  });
  return dataset;
}

ImageFolderOptions imagenet_normalised(int32_t height, int32_t width) {
  ImageFolderOptions o;
  o.channels = 3;
  o.height = height;
  o.width = width;
  o.mean = {0.485f, 0.456f, 0.406f};
  o.std = {0.229f, 0.224f, 0.225f};
  return o;
}

}  // namespace mamlpp::data
