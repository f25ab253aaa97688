// User metadata in model files: round trips, the rules on keys and values, the limits, and what a
// reader does with keys other tools wrote.
#include <gtest/gtest.h>

#include <string>

#include "core/layout.hpp"
#include "io/model_file.hpp"
#include "io/user_metadata.hpp"
#include "test_model.hpp"

namespace mamlpp::io::test {
namespace {

ModelFile decode(const std::vector<uint8_t>& b) { return decode_model_file(b.data(), b.size()); }

std::function<void()> encode_with(const UserMetadata& md) {
  return [md] {
    ModelFile m = make_model(tiny_config(), false);
    m.user_metadata = md;
    encode_model_file(m);
  };
}

TEST(UserMetadata, RoundTripsThroughTheFile) {
  ModelFile m = make_model(tiny_config(), true);
  m.user_metadata = {{"mamlpp.preprocessing", "{\"invert\":true,\"resize\":\"nearest\"}"},
                     {"mamlpp.class_names", "[\"\\u00e9t\\u00e9\",\"b\"]"},
                     {"author", "Zo\xc3\xab \xe2\x9c\x93 \xf0\x9f\x98\x80"},  // 2-, 3-, 4-byte UTF-8
                     {"notes", "line 1\nline 2\ttab\r\n\"quoted\" \\ back"},
                     {"empty", ""},
                     {"a-b_c:d/e.f", "x"}};
  const auto bytes = encode_model_file(m);
  const ModelFile back = decode(bytes);
  EXPECT_EQ(back.user_metadata, m.user_metadata);
  EXPECT_EQ(encode_model_file(back), bytes);  // deterministic, keeps every entry
}

TEST(UserMetadata, AFileWithoutAnyHasNone) {
  EXPECT_TRUE(decode(tiny_file(true)).user_metadata.empty());
}

TEST(UserMetadata, KeysFollowTheRules) {
  EXPECT_NO_THROW(check_metadata_key(std::string(kMaxMetadataKeyBytes, 'k')));
  expect_error([] { check_metadata_key(""); }, ErrorKind::InvalidArgument, "must not be empty");
  expect_error([] { check_metadata_key(std::string(kMaxMetadataKeyBytes + 1, 'k')); },
               ErrorKind::InvalidArgument, "129 bytes long; at most 128");
  for (const char* bad : {"with space", "quote\"", "back\\slash", "caf\xc3\xa9", "tab\t", "a=b"})
    expect_error([bad] { check_metadata_key(bad); }, ErrorKind::InvalidArgument,
                 "may only hold ASCII letters, digits");
  for (const char* reserved : {"format", "format_version", "library_version", "config", "step",
                               "has_optimizer", "dtype", "libmamlpp.", "libmamlpp.future"})
    expect_error([reserved] { check_metadata_key(reserved); }, ErrorKind::InvalidArgument,
                 "is reserved for libmamlpp");
  // Near misses of the reserved names are the user's.
  for (const char* ok : {"Format", "configs", "libmamlpp", "libmamlpp_x", "mamlpp.preprocessing"})
    EXPECT_NO_THROW(check_metadata_key(ok)) << ok;
}

TEST(UserMetadata, ValuesAreBoundedUtf8Text) {
  EXPECT_NO_THROW(check_metadata_value("k", std::string(kMaxMetadataValueBytes, 'v')));
  expect_error([] { check_metadata_value("k", std::string(kMaxMetadataValueBytes + 1, 'v')); },
               ErrorKind::InvalidArgument, "'k' is 65537 bytes long; at most 65536");
  const std::pair<std::string, std::string> bad[] = {
      {std::string("a\0b", 3), "a control character at byte 1"},
      {"bell\x07", "a control character at byte 4"},
      {"del\x7f", "a control character at byte 3"},
      {"\xff", "invalid UTF-8 at byte 0"},
      {"ok\xc3", "truncated UTF-8 at byte 2"},
      {"\xc0\xaf", "invalid UTF-8 at byte 0"},          // overlong '/'
      {"\xe0\x80\xaf", "invalid UTF-8 at byte 0"},      // overlong, 3 bytes
      {"\xed\xa0\x80", "invalid UTF-8 at byte 0"},      // a surrogate
      {"\xf4\x90\x80\x80", "invalid UTF-8 at byte 0"},  // past U+10FFFF
      {"\xc3(", "invalid UTF-8 at byte 0"},
  };
  for (const auto& [value, needle] : bad)
    expect_error([&value = value] { check_metadata_value("k", value); },
                 ErrorKind::InvalidArgument, needle);
}

TEST(UserMetadata, TheWriterRefusesWhatBreaksTheRules) {
  expect_error(encode_with({{"step", "1"}}), ErrorKind::InvalidArgument,
               "encode_model_file: metadata key 'step' is reserved");
  expect_error(encode_with({{"libmamlpp.x", "1"}}), ErrorKind::InvalidArgument, "is reserved");
  expect_error(encode_with({{"bad key", "1"}}), ErrorKind::InvalidArgument, "may only hold");
  expect_error(encode_with({{"k", "\xff"}}), ErrorKind::InvalidArgument, "invalid UTF-8");
  UserMetadata many;
  for (std::size_t i = 0; i <= kMaxMetadataEntries; ++i) many["k" + std::to_string(i)] = "v";
  expect_error(encode_with(many), ErrorKind::InvalidArgument, "257 metadata entries; at most 256");
  UserMetadata big;
  for (int i = 0; i < 5; ++i) big["k" + std::to_string(i)] = std::string(kMaxMetadataValueBytes, 'v');
  expect_error(encode_with(big), ErrorKind::InvalidArgument, "at most 262144 together");
}

// The limits guarantee that any metadata a model may hold fits in a file: the largest layout
// with the most metadata, every value character one that JSON escapes.
TEST(UserMetadata, TheMostMetadataFitsTheLargestLayout) {
  Config cfg = tiny_config();
  cfg.num_stages = kMaxLayoutStages;
  cfg.max_pool = false;
  cfg.learn_inner_lr = true;
  ModelFile m = make_model(cfg, true);
  const std::size_t per = kMaxMetadataTotalBytes / kMaxMetadataEntries;
  for (std::size_t i = 0; i < kMaxMetadataEntries; ++i) {
    std::string key = "k" + std::to_string(i);
    key += std::string(kMaxMetadataKeyBytes - key.size(), '_');
    m.user_metadata[key] = std::string(per - key.size(), '"');
  }
  ASSERT_NO_THROW(check_user_metadata(m.user_metadata));
  const auto bytes = encode_model_file(m);
  EXPECT_EQ(decode(bytes).user_metadata, m.user_metadata);
}

TEST(UserMetadata, TheReaderIgnoresForeignKeysItCannotCarry) {
  EditableFile f(tiny_file(true));
  f.metadata["note"] = "kept";
  f.metadata["with space"] = "ignored: not a valid key";
  f.metadata["bell"] = "ignored: \x07";
  f.metadata["libmamlpp.future"] = "ignored: a later version's key";
  const ModelFile back = decode(f.build());
  EXPECT_EQ(back.user_metadata, (UserMetadata{{"note", "kept"}}));
}

TEST(UserMetadata, TheReaderRefusesMoreThanTheLimits) {
  EditableFile f(tiny_file(true));
  for (std::size_t i = 0; i <= kMaxMetadataEntries; ++i) f.metadata["k" + std::to_string(i)] = "v";
  EXPECT_NE(decode_error(f.build()).find("the user metadata holds 257 entries"), std::string::npos);
}

}  // namespace
}  // namespace mamlpp::io::test
