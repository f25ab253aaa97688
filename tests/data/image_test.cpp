// Decoding, resizing and rotating single images.
#include <gtest/gtest.h>

#include <zlib.h>

#include <numeric>
#include <vector>

#include "data/file_bytes.hpp"
#include "data/image_decode.hpp"
#include "data/resize.hpp"
#include "data/rotate.hpp"
#include "test_util.hpp"

namespace mamlpp::data {
namespace {

using test::TempDir;

TEST(Rotate, MatchesNumpyRot90) {
  // np.rot90([[1, 2], [3, 4]]) == [[2, 4], [1, 3]]; k=2 -> [[4, 3], [2, 1]]; k=3 -> [[3, 1], [4, 2]].
  const std::vector<float> m = {1, 2, 3, 4};
  std::vector<float> out(4);
  rotate_quarter_turns(m.data(), out.data(), 1, 2, 1);
  EXPECT_EQ(out, (std::vector<float>{2, 4, 1, 3}));
  rotate_quarter_turns(m.data(), out.data(), 1, 2, 2);
  EXPECT_EQ(out, (std::vector<float>{4, 3, 2, 1}));
  rotate_quarter_turns(m.data(), out.data(), 1, 2, 3);
  EXPECT_EQ(out, (std::vector<float>{3, 1, 4, 2}));
  rotate_quarter_turns(m.data(), out.data(), 1, 2, -1);  // -1 == 3
  EXPECT_EQ(out, (std::vector<float>{3, 1, 4, 2}));
}

TEST(Rotate, FourQuarterTurnsAreIdentityOnEveryChannel) {
  const int C = 3, n = 5;
  std::vector<float> img(C * n * n);
  std::iota(img.begin(), img.end(), 0.0f);
  std::vector<float> a = img, b(img.size());
  for (int turn = 0; turn < 4; ++turn) {
    rotate_quarter_turns(a.data(), b.data(), C, n, 1);
    std::swap(a, b);
    if (turn < 3) {
      EXPECT_NE(a, img);
    }
  }
  EXPECT_EQ(a, img);
  rotate_quarter_turns(img.data(), a.data(), C, n, 1);
  rotate_quarter_turns(a.data(), b.data(), C, n, 3);
  EXPECT_EQ(b, img);
}

TEST(Resize, NearestUsesPixelCentresLikePil) {
  // 105 -> 28: output x reads source floor((x + 0.5) * 3.75).
  std::vector<float> in(105 * 105);
  for (int y = 0; y < 105; ++y)
    for (int x = 0; x < 105; ++x) in[y * 105 + x] = static_cast<float>(y * 1000 + x);
  std::vector<float> out(28 * 28);
  resize_plane(in.data(), 105, 105, out.data(), 28, 28, ResizeFilter::Nearest);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const int sy = static_cast<int>((y + 0.5) * 3.75), sx = static_cast<int>((x + 0.5) * 3.75);
      ASSERT_EQ(out[y * 28 + x], static_cast<float>(sy * 1000 + sx));
    }
  EXPECT_EQ(out[0], 1001.0f);            // (1, 1)
  EXPECT_EQ(out[27 * 28 + 27], 103103.0f);  // (103, 103)
}

TEST(Resize, NearestUpsamplingReplicates) {
  const std::vector<float> in = {1, 2, 3, 4};
  std::vector<float> out(16);
  resize_plane(in.data(), 2, 2, out.data(), 4, 4, ResizeFilter::Nearest);
  EXPECT_EQ(out, (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

TEST(Resize, BilinearKeepsConstantsAndAveragesWhenShrinking) {
  std::vector<float> flat(40 * 30, 0.25f), out(7 * 9);
  resize_plane(flat.data(), 40, 30, out.data(), 7, 9, ResizeFilter::Bilinear);
  for (float v : out) EXPECT_NEAR(v, 0.25f, 1e-6f);
  // A fine checkerboard shrunk 8x averages to grey instead of aliasing to black or white.
  std::vector<float> board(64 * 64);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) board[y * 64 + x] = static_cast<float>((x + y) % 2);
  std::vector<float> small(8 * 8);
  resize_plane(board.data(), 64, 64, small.data(), 8, 8, ResizeFilter::Bilinear);
  for (float v : small) EXPECT_NEAR(v, 0.5f, 0.05f);
  // Enlarging interpolates between pixel centres.
  const std::vector<float> two = {0, 1};
  std::vector<float> four(4);
  resize_plane(two.data(), 1, 2, four.data(), 1, 4, ResizeFilter::Bilinear);
  EXPECT_FLOAT_EQ(four[0], 0.0f);
  EXPECT_FLOAT_EQ(four[1], 0.25f);
  EXPECT_FLOAT_EQ(four[2], 0.75f);
  EXPECT_FLOAT_EQ(four[3], 1.0f);
}

TEST(Decode, PngAndJpegRoundTrip) {
  TempDir dir;
  std::vector<uint8_t> grey(6 * 4), rgb(6 * 4 * 3, 0);
  std::iota(grey.begin(), grey.end(), uint8_t{10});
  for (size_t i = 0; i < rgb.size(); i += 3) rgb[i] = 200;  // red
  test::write_png(dir / "g.png", 6, 4, 1, grey);
  test::write_png(dir / "c.png", 6, 4, 3, rgb);
  test::write_jpeg(dir / "c.jpg", 6, 4, 3, rgb);

  Image8 img;
  auto bytes = read_file_bytes((dir / "g.png").string());
  decode_image(bytes.data(), bytes.size(), "g.png", img);
  EXPECT_EQ(img.width, 6);
  EXPECT_EQ(img.height, 4);
  EXPECT_EQ(img.channels, 1);
  EXPECT_EQ(img.pixels, grey);

  bytes = read_file_bytes((dir / "c.png").string());
  decode_image(bytes.data(), bytes.size(), "c.png", img);
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels, rgb);

  bytes = read_file_bytes((dir / "c.jpg").string());
  decode_image(bytes.data(), bytes.size(), "c.jpg", img);
  EXPECT_EQ(img.channels, 3);
  ASSERT_EQ(img.pixels.size(), rgb.size());
  for (size_t i = 0; i < rgb.size(); ++i) EXPECT_NEAR(img.pixels[i], rgb[i], 8);  // lossy
}

TEST(Decode, ErrorsNameTheFile) {
  Image8 img;
  const std::vector<uint8_t> junk = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  test::expect_error([&] { decode_image(junk.data(), junk.size(), "/x/junk.png", img); },
                     ErrorKind::Format, {"/x/junk.png", "neither a PNG nor a JPEG"});
  // A PNG signature followed by garbage.
  std::vector<uint8_t> bad = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H'};
  test::expect_error([&] { decode_image(bad.data(), bad.size(), "/x/bad.png", img); },
                     ErrorKind::Format, {"/x/bad.png", "PNG"});
  std::vector<uint8_t> badj = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F'};
  test::expect_error([&] { decode_image(badj.data(), badj.size(), "/x/bad.jpg", img); },
                     ErrorKind::Format, {"/x/bad.jpg", "JPEG"});
}

// The bytes of a small valid image file whose header is then edited to claim width x height.
std::vector<uint8_t> jpeg_claiming(uint16_t width, uint16_t height) {
  TempDir dir;
  test::write_jpeg(dir / "small.jpg", 8, 8, 3, std::vector<uint8_t>(8 * 8 * 3, 128));
  std::vector<uint8_t> b = read_file_bytes((dir / "small.jpg").string());
  // The baseline frame header: FF C0, length (2), precision (1), height (2), width (2).
  for (size_t i = 2; i + 9 < b.size(); ++i) {
    if (b[i] == 0xFF && b[i + 1] == 0xC0) {
      b[i + 5] = static_cast<uint8_t>(height >> 8);
      b[i + 6] = static_cast<uint8_t>(height & 0xFF);
      b[i + 7] = static_cast<uint8_t>(width >> 8);
      b[i + 8] = static_cast<uint8_t>(width & 0xFF);
      return b;
    }
  }
  throw std::runtime_error("no SOF0 marker in the test JPEG");
}

std::vector<uint8_t> png_claiming(uint32_t width, uint32_t height) {
  TempDir dir;
  test::write_png(dir / "small.png", 8, 8, 1, std::vector<uint8_t>(8 * 8, 128));
  std::vector<uint8_t> b = read_file_bytes((dir / "small.png").string());
  // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), 5 more bytes, CRC (4).
  for (int i = 0; i < 4; ++i) {
    b[16 + i] = static_cast<uint8_t>(width >> (24 - 8 * i));
    b[20 + i] = static_cast<uint8_t>(height >> (24 - 8 * i));
  }
  const uLong crc = crc32(0L, b.data() + 12, 17);
  for (int i = 0; i < 4; ++i) b[29 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  return b;
}

TEST(Decode, JpegBombIsRefusedBeforeAllocating) {
  // 1 KB that claims 65500 x 65500 x 3 = 12.9 GB of pixels: refused from the header alone.
  const std::vector<uint8_t> bomb = jpeg_claiming(65500, 65500);
  ASSERT_LT(bomb.size(), 2000u);
  Image8 img;
  test::expect_error([&] { decode_image(bomb.data(), bomb.size(), "/x/bomb.jpg", img); }, ErrorKind::Format,
                     {"/x/bomb.jpg", "65500x65500", "pixels", "limit"});
  EXPECT_TRUE(img.pixels.empty());
  // Just over the limit is refused as well; the same file at its real size decodes.
  const std::vector<uint8_t> over = jpeg_claiming(static_cast<uint16_t>(kMaxImagePixels / 65500 + 1), 65500);
  test::expect_error([&] { decode_image(over.data(), over.size(), "over.jpg", img); }, ErrorKind::Format,
                     {"over.jpg", "limit"});
  const std::vector<uint8_t> fine = jpeg_claiming(8, 8);
  decode_image(fine.data(), fine.size(), "fine.jpg", img);
  EXPECT_EQ(img.width, 8);
}

TEST(Decode, PngBombIsRefusedBeforeAllocating) {
  const std::vector<uint8_t> bomb = png_claiming(65500, 65500);
  Image8 img;
  test::expect_error([&] { decode_image(bomb.data(), bomb.size(), "/x/bomb.png", img); }, ErrorKind::Format,
                     {"/x/bomb.png", "65500x65500", "pixels", "limit"});
  EXPECT_TRUE(img.pixels.empty());
  const std::vector<uint8_t> fine = png_claiming(8, 8);
  decode_image(fine.data(), fine.size(), "fine.png", img);
  EXPECT_EQ(img.width, 8);
}

TEST(Decode, ToFloatConvertsChannels) {
  Image8 rgb{1, 1, 3, {255, 0, 0}};
  float grey = 0;
  to_float_chw(rgb, ImageShape{1, 1, 1}, ResizeFilter::Bilinear, &grey);
  EXPECT_NEAR(grey, 0.299f, 1e-5f);
  to_float_chw(rgb, ImageShape{1, 1, 1}, ResizeFilter::Nearest, &grey);
  EXPECT_NEAR(grey, 0.299f, 1e-5f);
  Image8 g{1, 1, 1, {51}};
  float three[3];
  to_float_chw(g, ImageShape{3, 1, 1}, ResizeFilter::Bilinear, three);
  for (float v : three) EXPECT_NEAR(v, 0.2f, 1e-6f);
}

}  // namespace
}  // namespace mamlpp::data
