// Omniglot from the real archives: counts, pixel values against an independent conversion (the
// npz arrays), options, and errors on missing, corrupt and odd archives.
#include <gtest/gtest.h>
#include <zip.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "data/file_bytes.hpp"
#include "data/image_decode.hpp"
#include "data/zip_archive.hpp"
#include "omniglot_common.hpp"

namespace mamlpp::data {
namespace {

using test::expect_error;
using test::omniglot_dir;
using test::TempDir;

struct IndexRow {
  std::string set, name;  // "background", "Alphabet/characterNN"
  int npz_row;
};

std::vector<IndexRow> read_index() {
  std::ifstream in(omniglot_dir() + "/index.csv");
  std::string line;
  std::getline(in, line);  // header
  std::vector<IndexRow> rows;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    rows.push_back({f[1], f[2] + "/" + f[3], std::stoi(f[5])});
  }
  return rows;
}

// The first `rows` characters (x 20 drawers x 105 x 105 bools, True = white) of an npz's
// images.npy, read by streaming its zip member.
std::vector<uint8_t> npz_first_rows(const std::string& path, int rows) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &err);
  if (!z) throw std::runtime_error("cannot open " + path);
  zip_file_t* f = zip_fopen(z, "images.npy", 0);
  if (!f) throw std::runtime_error("no images.npy in " + path);
  uint8_t head[10];
  zip_fread(f, head, 10);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(head) + 1, 5), "NUMPY");
  std::vector<uint8_t> header(head[8] | (head[9] << 8));
  zip_fread(f, header.data(), header.size());
  EXPECT_NE(std::string(header.begin(), header.end()).find("'|b1'"), std::string::npos);
  std::vector<uint8_t> data(static_cast<size_t>(rows) * 20 * 105 * 105);
  EXPECT_EQ(zip_fread(f, data.data(), data.size()), static_cast<zip_int64_t>(data.size()));
  zip_fclose(f);
  zip_discard(z);
  return data;
}

TEST(Omniglot, LoadsAll1623CharactersWith20ImagesEach) {
  MAMLPP_REQUIRE_OMNIGLOT();
  const auto t0 = std::chrono::steady_clock::now();
  const auto ds = test::full_omniglot();
  RecordProperty("load_seconds",
                 std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
  ASSERT_EQ(ds->num_classes(), 964 + 659);
  EXPECT_EQ(ds->total_images(), 32460);
  EXPECT_EQ(ds->shape(), (ImageShape{1, 28, 28}));
  for (int32_t c = 0; c < ds->num_classes(); ++c) ASSERT_EQ(ds->num_images(c), 20) << ds->class_name(c);

  // Background first (964 characters), then evaluation (659), each sorted by name.
  std::set<std::string> background, evaluation;
  for (const auto& r : read_index()) (r.set == "background" ? background : evaluation).insert(r.name);
  ASSERT_EQ(background.size(), 964u);
  ASSERT_EQ(evaluation.size(), 659u);
  for (int32_t c = 0; c < 964; ++c) EXPECT_TRUE(background.count(ds->class_name(c))) << c;
  for (int32_t c = 964; c < 1623; ++c) EXPECT_TRUE(evaluation.count(ds->class_name(c))) << c;
  EXPECT_EQ(ds->class_name(0), "Alphabet_of_the_Magi/character01");
  EXPECT_EQ(ds->class_name(964), "Angelic/character01");
  EXPECT_EQ(ds->find_class("Greek/character24"), ds->find_class("Greek/character24"));
  EXPECT_GE(ds->find_class("Greek/character24"), 0);
  EXPECT_EQ(ds->find_class("Greek/character99"), -1);
}

TEST(Omniglot, PixelsAreBinaryWithInkOne) {
  MAMLPP_REQUIRE_OMNIGLOT();
  const auto ds = test::full_omniglot();
  int64_t ink = 0, total = 0;
  for (int32_t c = 0; c < ds->num_classes(); c += 13)
    for (int32_t i = 0; i < 20; ++i) {
      const float* p = ds->image(c, i);
      for (int k = 0; k < 28 * 28; ++k) {
        ASSERT_TRUE(p[k] == 0.0f || p[k] == 1.0f) << p[k];
        ink += p[k] == 1.0f;
        ++total;
      }
    }
  const double fraction = static_cast<double>(ink) / total;
  EXPECT_GT(fraction, 0.04);  // about 8% of pixels are ink (SOURCE.md)
  EXPECT_LT(fraction, 0.15);
}

TEST(Omniglot, DecodedPngsEqualTheIndependentNpzConversion) {
  MAMLPP_REQUIRE_OMNIGLOT();
  const auto ds = test::full_omniglot();
  const auto index = read_index();
  for (const std::string set : {"background", "evaluation"}) {
    const int rows = 3;
    const auto npz = npz_first_rows(omniglot_dir() + "/npz/images_" + set + ".npz", rows);
    const auto zip = ZipArchive::open_file(omniglot_dir() + "/images_" + set + ".zip");
    std::map<std::string, int64_t> entries;
    for (int64_t e = 0; e < zip.num_entries(); ++e) entries[zip.entry_name(e)] = e;
    for (const auto& r : index) {
      if (r.set != set || r.npz_row >= rows) continue;
      const int32_t cls = ds->find_class(r.name);
      ASSERT_GE(cls, 0) << r.name;
      int matched = 0;
      for (int drawer = 0; drawer < 20; ++drawer) {
        const uint8_t* want = &npz[(static_cast<size_t>(r.npz_row) * 20 + drawer) * 105 * 105];
        // 1) the full-size decode equals the npz bits exactly (white = 255 = True = nonzero);
        std::string file;
        for (const auto& [name, e] : entries)
          if (name.find(r.name + "/") != std::string::npos &&
              name.size() >= 6 && name.compare(name.size() - 6, 6, (drawer < 9 ? "0" : "") +
                                                std::to_string(drawer + 1) + ".png") == 0)
            file = name;
        ASSERT_FALSE(file.empty()) << r.name << " drawer " << drawer + 1;
        std::vector<uint8_t> bytes;
        zip.read(entries[file], bytes);
        Image8 img;
        decode_png(bytes.data(), bytes.size(), file, img);
        ASSERT_EQ(img.width, 105);
        ASSERT_EQ(img.height, 105);
        ASSERT_EQ(img.channels, 1);
        for (int k = 0; k < 105 * 105; ++k) ASSERT_EQ(img.pixels[k] == 255, want[k] != 0) << file;  // this npz stores True as 0xFF
        // 2) the dataset's 28x28 image is PIL's nearest sample of it, ink (False) = 1.
        const float* got = ds->image(cls, drawer);
        for (int y = 0; y < 28; ++y)
          for (int x = 0; x < 28; ++x) {
            const int sy = static_cast<int>((y + 0.5) * 105.0 / 28.0);
            const int sx = static_cast<int>((x + 0.5) * 105.0 / 28.0);
            ASSERT_EQ(got[y * 28 + x], want[sy * 105 + sx] ? 0.0f : 1.0f) << file;
          }
        ++matched;
      }
      EXPECT_EQ(matched, 20);
    }
  }
}

TEST(Omniglot, OptionsForPolarityAndSize) {
  MAMLPP_REQUIRE_OMNIGLOT();
  const std::string small = omniglot_dir() + "/small/images_background_small1.zip";
  const ImageDataset ours = load_omniglot({small});
  EXPECT_EQ(ours.num_classes(), 136);
  EXPECT_EQ(ours.total_images(), 2720);
  OmniglotOptions reference;  // the MAML++ reference's raw PIL bits: paper 1, ink 0
  reference.ink = 0.0f;
  reference.background = 1.0f;
  reference.threads = 1;
  const ImageDataset theirs = load_omniglot({small}, reference);
  for (int32_t c = 0; c < 136; c += 5)
    for (int k = 0; k < 28 * 28; ++k) ASSERT_EQ(theirs.image(c, 3)[k], 1.0f - ours.image(c, 3)[k]);
  OmniglotOptions smooth;
  smooth.height = smooth.width = 14;
  smooth.filter = ResizeFilter::Bilinear;
  const ImageDataset grey = load_omniglot({small}, smooth);
  EXPECT_EQ(grey.shape(), (ImageShape{1, 14, 14}));
  bool fractional = false;
  for (int k = 0; k < 14 * 14; ++k) {
    const float v = grey.image(0, 0)[k];
    ASSERT_GE(v, 0.0f);
    ASSERT_LE(v, 1.0f);
    fractional = fractional || (v > 0.01f && v < 0.99f);
  }
  EXPECT_TRUE(fractional);
}

TEST(Omniglot, UnpackedFolderEqualsTheArchive) {
  MAMLPP_REQUIRE_OMNIGLOT();
  const std::string small = omniglot_dir() + "/small/images_background_small2.zip";
  TempDir dir;
  const auto zip = ZipArchive::open_file(small);
  std::vector<uint8_t> bytes;
  for (int64_t e = 0; e < zip.num_entries(); ++e) {
    const std::string name = zip.entry_name(e);
    if (name.back() == '/') continue;
    zip.read(e, bytes);
    test::write_bytes(dir / name, bytes);
  }
  const ImageDataset from_zip = load_omniglot({small});
  const ImageDataset from_folder = load_omniglot({dir.str()});
  ASSERT_EQ(from_folder.num_classes(), 156);
  ASSERT_EQ(from_folder.total_images(), from_zip.total_images());
  for (int32_t c = 0; c < 156; ++c) {
    ASSERT_EQ(from_folder.class_name(c), from_zip.class_name(c));
    for (int32_t i = 0; i < from_zip.num_images(c); ++i)
      ASSERT_TRUE(std::equal(from_zip.image(c, i), from_zip.image(c, i) + 28 * 28,
                             from_folder.image(c, i)));
  }
}

TEST(OmniglotErrors, MissingArchiveSaysWhereToGetIt) {
  TempDir dir;
  const std::string path = (dir / "images_background.zip").string();
  expect_error([&] { load_omniglot({path}); }, ErrorKind::Io,
               {path, "not found", "https://github.com/brendenlake/omniglot"});
  expect_error([&] { load_omniglot_folder(dir.str()); }, ErrorKind::Io, {path});
}

TEST(OmniglotErrors, TruncatedArchiveIsNotAZip) {
  MAMLPP_REQUIRE_OMNIGLOT();
  TempDir dir;
  auto bytes = read_file_bytes(omniglot_dir() + "/small/images_background_small1.zip");
  bytes.resize(bytes.size() / 2);
  const std::string path = (dir / "images_background.zip").string();
  test::write_bytes(path, bytes);
  expect_error([&] { load_omniglot({path}); }, ErrorKind::Format,
               {path, "not a valid zip archive", "zip error", "download"});
}

void write_zip(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  for (const auto& [name, content] : files) {
    zip_source_t* s = zip_source_buffer(z, content.data(), content.size(), 0);
    ASSERT_GE(zip_file_add(z, name.c_str(), s, ZIP_FL_OVERWRITE), 0);
  }
  ASSERT_EQ(zip_close(z), 0);  // writes while the contents are still alive
}

TEST(OmniglotErrors, ArchiveWithoutOmniglotImages) {
  TempDir dir;
  const std::string path = (dir / "other.zip").string();
  write_zip(path, {{"readme.txt", "hello"}, {"pictures/cat.png", "not here"}});
  expect_error([&] { load_omniglot({path}); }, ErrorKind::Format, {path, "no Omniglot image"});
}

TEST(OmniglotErrors, DamagedPngNamesArchiveAndEntry) {
  TempDir dir;
  const std::string path = (dir / "images_background.zip").string();
  write_zip(path, {{"images_background/Greek/character01/0394_01.png", "\x89PNG\r\n\x1a\nbroken"}});
  expect_error([&] { load_omniglot({path}); }, ErrorKind::Format,
               {path, "images_background/Greek/character01/0394_01.png", "PNG"});
}

TEST(OmniglotErrors, SameCharactersTwice) {
  MAMLPP_REQUIRE_OMNIGLOT();
  const std::string small1 = omniglot_dir() + "/small/images_background_small1.zip";
  const std::string small2 = omniglot_dir() + "/small/images_background_small2.zip";
  expect_error([&] { load_omniglot({small1, small2}); }, ErrorKind::Format,
               {small2, "already read from", small1});
}

}  // namespace
}  // namespace mamlpp::data
