#include "data/omniglot.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>

#include "common/error.hpp"
#include "data/file_bytes.hpp"
#include "data/image_decode.hpp"
#include "common/parallel.hpp"
#include "data/zip_archive.hpp"

namespace mamlpp::data {

const char* const kOmniglotDownloadHint =
    "download images_background.zip and images_evaluation.zip again from "
    "https://github.com/brendenlake/omniglot (folder python/)";

namespace {

struct ImageEntry {
  std::string file;    // "0394_01.png": sorts in drawer order
  int32_t archive;
  int64_t entry;       // index in the zip, or -1 for a file on disk
  std::string path;    // the file on disk, for an unpacked folder
};

bool ends_with_png(const std::string& s) {
  if (s.size() < 4) return false;
  std::string ext = s.substr(s.size() - 4);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png";
}

// Splits "top/Alphabet/characterNN/file.png" into class "Alphabet/characterNN" and the file name.
// Returns false for folders, macOS metadata and anything not shaped like an Omniglot image.
bool parse_entry(const std::string& path, std::string& cls, std::string& file) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string::npos ? path.size() : slash;
    parts.push_back(path.substr(start, end - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 3 || !ends_with_png(parts.back())) return false;
  for (const auto& p : parts)
    if (p.empty() || p[0] == '.' || p == "__MACOSX") return false;
  cls = parts[parts.size() - 3] + "/" + parts[parts.size() - 2];
  file = parts.back();
  return true;
}

}  // namespace

ImageDataset load_omniglot(const std::vector<std::string>& archives, const OmniglotOptions& options) {
  if (archives.empty()) throw invalid_argument(std::string("load_omniglot: no archive given; ") + kOmniglotDownloadHint);
  if (options.height < 1 || options.width < 1)
    throw invalid_argument("load_omniglot: image size " + std::to_string(options.height) + "x" +
                           std::to_string(options.width) + " must be positive");

  std::vector<std::unique_ptr<ZipArchive>> zips;  // null for an unpacked folder
  std::vector<std::string> class_names;
  std::vector<std::vector<ImageEntry>> class_images;
  std::map<std::string, std::string> seen;  // class -> archive it came from
  for (size_t a = 0; a < archives.size(); ++a) {
    const std::string& path = archives[a];
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
      throw io_error(path + ": not found (no such file or folder); expected an Omniglot archive, "
                     "images_background.zip or images_evaluation.zip from https://github.com/brendenlake/omniglot "
                     "(folder python/)");
    std::map<std::string, std::vector<ImageEntry>> classes;  // sorted by class name
    std::string cls, file;
    if (std::filesystem::is_directory(path, ec)) {
      // An unpacked archive: the same layout on disk.
      zips.emplace_back(nullptr);
      for (const auto& e : std::filesystem::recursive_directory_iterator(path, ec)) {
        if (!e.is_regular_file()) continue;
        const std::string relative = std::filesystem::relative(e.path(), path).generic_string();
        if (parse_entry(relative, cls, file))
          classes[cls].push_back({file, static_cast<int32_t>(a), -1, e.path().string()});
      }
      if (ec) throw io_error(path + ": cannot list the folder (" + ec.message() + ")");
    } else {
      zips.push_back(std::make_unique<ZipArchive>(ZipArchive::open_file(path, kOmniglotDownloadHint)));
      const ZipArchive& zip = *zips.back();
      const int64_t n = zip.num_entries();
      for (int64_t e = 0; e < n; ++e)
        if (parse_entry(zip.entry_name(e), cls, file))
          classes[cls].push_back({file, static_cast<int32_t>(a), e, {}});
    }
    if (classes.empty())
      throw format_error(path + ": no Omniglot image (<Alphabet>/<characterNN>/<image>.png) in this "
                         "archive; " + kOmniglotDownloadHint);
    for (auto& [cls, images] : classes) {
      auto [it, fresh] = seen.emplace(cls, path);
      if (!fresh)
        throw format_error(path + ": character '" + cls + "' was already read from " + it->second +
                           "; give each Omniglot archive once (background and evaluation are disjoint)");
      std::sort(images.begin(), images.end(),
                [](const ImageEntry& x, const ImageEntry& y) { return x.file < y.file; });
      class_names.push_back(cls);
      class_images.push_back(std::move(images));
    }
  }

  std::vector<int32_t> counts;
  std::vector<std::pair<int32_t, int32_t>> slots;  // (class, image) for the flat work list
  for (size_t c = 0; c < class_images.size(); ++c) {
    counts.push_back(static_cast<int32_t>(class_images[c].size()));
    for (size_t i = 0; i < class_images[c].size(); ++i)
      slots.emplace_back(static_cast<int32_t>(c), static_cast<int32_t>(i));
  }
  std::string source;
  for (const auto& a : archives) source += (source.empty() ? "" : " + ") + a;
  ImageDataset dataset(ImageShape{1, options.height, options.width}, std::move(class_names), counts,
                       "Omniglot (" + source + ")");

  // libzip handles are per thread: each worker opens its own view of the shared archive bytes.
  const int32_t threads = resolve_threads(options.threads, static_cast<int64_t>(slots.size()));
  std::vector<std::vector<std::unique_ptr<ZipArchive>>> views(threads);
  for (auto& v : views) v.resize(zips.size());
  const ImageShape shape = dataset.shape();
  const float ink = options.ink, paper = options.background;
  parallel_for(static_cast<int64_t>(slots.size()), threads, [&](int64_t k, int32_t worker) {
    thread_local std::vector<uint8_t> bytes;
    thread_local Image8 decoded;
    const auto [c, i] = slots[k];
    const ImageEntry& entry = class_images[c][i];
    if (entry.entry < 0) {
      bytes = read_file_bytes(entry.path);
      decode_png(bytes.data(), bytes.size(), entry.path, decoded);
    } else {
      auto& view = views[worker][entry.archive];
      if (!view) {
        const ZipArchive& z = *zips[entry.archive];
        view = std::make_unique<ZipArchive>(z.bytes(), z.name(), kOmniglotDownloadHint);
      }
      view->read(entry.entry, bytes);
      decode_png(bytes.data(), bytes.size(), view->name() + ": " + view->entry_name(entry.entry),
                 decoded);
    }
    float* out = dataset.mutable_image(c, i);
    to_float_chw(decoded, shape, options.filter, out);
    // The decoded value is the paper (white) fraction of the pixel; map it to ink/paper values.
    for (int64_t p = 0; p < shape.numel(); ++p) out[p] = ink + (paper - ink) * out[p];
  });
  return dataset;
}

ImageDataset load_omniglot_folder(const std::string& folder, const OmniglotOptions& options) {
  const std::filesystem::path dir(folder);
  return load_omniglot({(dir / "images_background.zip").string(), (dir / "images_evaluation.zip").string()},
                       options);
}

}  // namespace mamlpp::data
