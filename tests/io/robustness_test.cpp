// Damaged files: every decode either returns a model that is itself valid or throws a Format
// error. Nothing else (no crash, no other exception, no huge allocation) is acceptable.
#include <gtest/gtest.h>

#include <random>

#include "io/model_file.hpp"
#include "test_model.hpp"

namespace mamlpp::io::test {
namespace {

enum class Outcome { Accepted, Refused };

// Decodes; an accepted result must re-encode into a file that decodes to the same model.
Outcome decode_checked(const std::vector<uint8_t>& bytes) {
  ModelFile m;
  try {
    m = decode_model_file(bytes.data(), bytes.size());
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Format) << e.what();
    EXPECT_NE(std::string(e.what()), "");
    return Outcome::Refused;
  }  // anything else escapes and fails the test
  const auto again = encode_model_file(m);
  const ModelFile back = decode_model_file(again.data(), again.size());
  EXPECT_EQ(encode_model_file(back), again);
  return Outcome::Accepted;
}

TEST(Robustness, EveryTruncationIsRefused) {
  for (bool opt : {true, false}) {
    const auto file = tiny_file(opt);
    for (std::size_t n = 0; n < file.size(); ++n) {
      const std::vector<uint8_t> cut(file.begin(), file.begin() + n);
      // data() of an empty vector may be null: decode must cope with (nullptr, 0).
      try {
        decode_model_file(cut.data(), cut.size());
        ADD_FAILURE() << "a file truncated to " << n << " of " << file.size() << " bytes loaded";
      } catch (const Error& e) {
        ASSERT_EQ(e.kind(), ErrorKind::Format) << n << ": " << e.what();
      }
    }
  }
}

TEST(Robustness, RandomByteFlips) {
  const auto file = tiny_file(true);
  const std::size_t header_end = parse_safetensors(file.data(), file.size()).data_begin;
  std::mt19937 rng(20240611);
  int accepted = 0, refused = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    auto bytes = file;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < flips; ++i) {
      // Most damage goes to the header, where the parser has the most to get wrong.
      const std::size_t limit = (rng() % 4 != 0) ? header_end : bytes.size();
      const std::size_t at = rng() % limit;
      bytes[at] = (rng() % 2) ? static_cast<uint8_t>(rng()) : bytes[at] ^ (1u << (rng() % 8));
    }
    (decode_checked(bytes) == Outcome::Accepted ? accepted : refused)++;
  }
  // Both outcomes happen (flipped weights still load; broken headers do not).
  EXPECT_GT(accepted, 0);
  EXPECT_GT(refused, 0);
}

TEST(Robustness, RandomInsertionsAndDeletions) {
  const auto file = tiny_file(true);
  std::mt19937 rng(77);
  for (int trial = 0; trial < 3000; ++trial) {
    auto bytes = file;
    const std::size_t at = rng() % bytes.size();
    const std::size_t len = 1 + rng() % 16;
    if (rng() % 2) {
      std::vector<uint8_t> junk(len);
      for (auto& b : junk) b = static_cast<uint8_t>(rng() % 3 ? rng() : ' ');
      bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), junk.begin(), junk.end());
    } else {
      bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                  bytes.begin() + static_cast<std::ptrdiff_t>(std::min(bytes.size(), at + len)));
    }
    decode_checked(bytes);
  }
}

TEST(Robustness, RandomBuffersWithPlausibleLengths) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> bytes(rng() % 256);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    if (bytes.size() >= 8) {
      const uint64_t n = rng() % bytes.size();
      for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(n >> (8 * i));
      if (bytes.size() > 8) bytes[8] = '{';
    }
    decode_checked(bytes);
  }
}

}  // namespace
}  // namespace mamlpp::io::test
