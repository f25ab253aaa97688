// Image folders (root/<class>/<image>), built in a temporary folder with PNGs and JPEGs.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "data/image_folder.hpp"
#include "data/sampler.hpp"
#include "data/splits.hpp"
#include "test_util.hpp"

namespace mamlpp::data {
namespace {

using test::TempDir;

std::vector<uint8_t> solid(int w, int h, std::vector<uint8_t> colour) {
  std::vector<uint8_t> px;
  for (int i = 0; i < w * h; ++i) px.insert(px.end(), colour.begin(), colour.end());
  return px;
}

// cats: 3 grey PNGs (16x16); dogs: 2 RGB JPEGs (20x10) and an RGBA PNG; notes.txt and a hidden
// folder are ignored.
void make_folder(const TempDir& dir) {
  for (int i = 0; i < 3; ++i)
    test::write_png(dir / ("cats/c" + std::to_string(i) + ".png"), 16, 16, 1,
                    solid(16, 16, {static_cast<uint8_t>(50 * (i + 1))}));
  test::write_jpeg(dir / "dogs/a.jpg", 20, 10, 3, solid(20, 10, {200, 100, 0}));
  test::write_jpeg(dir / "dogs/b.JPEG", 20, 10, 3, solid(20, 10, {0, 0, 255}));
  test::write_png(dir / "dogs/c.png", 8, 8, 4, solid(8, 8, {255, 255, 255, 255}));
  test::write_bytes(dir / "dogs/notes.txt", {'h', 'i'});
  test::write_png(dir / ".hidden/x.png", 4, 4, 1, solid(4, 4, {0}));
}

TEST(ImageFolder, LoadsPngAndJpegInSortedOrder) {
  TempDir dir;
  make_folder(dir);
  ImageFolderOptions o;
  o.channels = 3;
  o.height = 12;
  o.width = 12;
  o.threads = 2;
  const ImageDataset ds = load_image_folder(dir.str(), o);
  ASSERT_EQ(ds.num_classes(), 2);
  EXPECT_EQ(ds.class_name(0), "cats");
  EXPECT_EQ(ds.class_name(1), "dogs");
  EXPECT_EQ(ds.num_images(0), 3);
  EXPECT_EQ(ds.num_images(1), 3);
  EXPECT_EQ(ds.shape(), (ImageShape{3, 12, 12}));
  const int64_t plane = 12 * 12;
  // Grey 100 replicated to three channels; solid colours stay solid through any resize.
  for (int64_t p = 0; p < 3 * plane; ++p) ASSERT_NEAR(ds.image(0, 1)[p], 100 / 255.0f, 1e-5f);
  const float* orange = ds.image(1, 0);  // a.jpg
  EXPECT_NEAR(orange[0], 200 / 255.0f, 0.03f);
  EXPECT_NEAR(orange[plane], 100 / 255.0f, 0.03f);
  EXPECT_NEAR(orange[2 * plane], 0.0f, 0.03f);
  const float* blue = ds.image(1, 1);  // b.JPEG
  EXPECT_NEAR(blue[2 * plane + 50], 1.0f, 0.03f);
  EXPECT_NEAR(ds.image(1, 2)[77], 1.0f, 1e-6f);  // c.png, RGBA white
}

TEST(ImageFolder, ConvertsToGreyAndNormalises) {
  TempDir dir;
  make_folder(dir);
  ImageFolderOptions o;
  o.channels = 1;
  o.height = 5;
  o.width = 7;
  o.filter = ResizeFilter::Nearest;
  o.mean = {0.5f};
  o.std = {0.25f};
  const ImageDataset ds = load_image_folder(dir.str(), o);
  EXPECT_EQ(ds.shape(), (ImageShape{1, 5, 7}));
  EXPECT_NEAR(ds.image(0, 0)[3], (50 / 255.0f - 0.5f) / 0.25f, 1e-5f);
  const float luma = (0.299f * 200 + 0.587f * 100) / 255.0f;
  EXPECT_NEAR(ds.image(1, 0)[0], (luma - 0.5f) / 0.25f, 0.15f);
}

TEST(ImageFolder, ImagenetPresetHasItsStatistics) {
  const ImageFolderOptions o = imagenet_normalised();
  EXPECT_EQ(o.channels, 3);
  EXPECT_EQ(o.height, 84);
  ASSERT_EQ(o.mean.size(), 3u);
  EXPECT_FLOAT_EQ(o.std[2], 0.225f);
}

TEST(ImageFolder, UndecodablePngNamesTheFile) {
  TempDir dir;
  make_folder(dir);
  test::write_bytes(dir / "cats/broken.png", {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 1, 2});
  test::expect_error([&] { load_image_folder(dir.str()); }, ErrorKind::Format,
                     {(dir / "cats/broken.png").string(), "PNG"});
}

TEST(ImageFolder, MissingOrEmptyRoot) {
  TempDir dir;
  test::expect_error([&] { load_image_folder((dir / "nope").string()); }, ErrorKind::Io,
                     {(dir / "nope").string(), "not found"});
  test::expect_error([&] { load_image_folder(dir.str()); }, ErrorKind::Format,
                     {dir.str(), "no class folder"});
  ImageFolderOptions o;
  o.channels = 2;
  test::expect_error([&] { load_image_folder(dir.str(), o); }, ErrorKind::InvalidArgument,
                     {"channels"});
}

TEST(ImageFolder, TooFewClassesOrImagesForTheTask) {
  TempDir dir;
  make_folder(dir);
  auto ds = std::make_shared<const ImageDataset>(load_image_folder(dir.str()));
  EpisodeOptions e;
  e.n_way = 5;
  test::expect_error([&] { EpisodeSampler(ds, whole_dataset(*ds), e); }, ErrorKind::InvalidArgument,
                     {dir.str(), "2 classes", "n_way = 5"});
  e.n_way = 2;
  e.k_shot = 2;
  e.q_query = 2;
  test::expect_error([&] { EpisodeSampler(ds, whole_dataset(*ds), e); }, ErrorKind::InvalidArgument,
                     {dir.str(), "'cats'", "3 images", "k_shot + q_query = 4"});
  e.k_shot = 1;
  EXPECT_NO_THROW(EpisodeSampler(ds, whole_dataset(*ds), e));
}

TEST(ImageFolder, RotationNeedsSquareImages) {
  TempDir dir;
  make_folder(dir);
  ImageFolderOptions o;
  o.height = 8;
  o.width = 6;
  auto ds = std::make_shared<const ImageDataset>(load_image_folder(dir.str(), o));
  EpisodeOptions e;
  e.n_way = 2;
  e.augment_rotations = true;
  test::expect_error([&] { EpisodeSampler(ds, whole_dataset(*ds), e); }, ErrorKind::InvalidArgument,
                     {"square", "3x8x6"});
}

}  // namespace
}  // namespace mamlpp::data
