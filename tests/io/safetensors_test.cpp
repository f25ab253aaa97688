// The safetensors codec alone: what it writes, and that it refuses each malformation by name.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "io/safetensors.hpp"
#include "test_model.hpp"

namespace mamlpp::io::test {
namespace {

SafetensorsFile parse(const std::vector<uint8_t>& b) { return parse_safetensors(b.data(), b.size()); }

void expect_refused(const std::vector<uint8_t>& file, const std::string& needle) {
  expect_format_error([&] { parse(file); }, needle);
}

// A header for one tensor `t` of dtype/shape/offsets given as JSON text.
std::string one(const std::string& entry) { return "{\"t\":" + entry + "}"; }

TEST(Safetensors, WritesWhatItReads) {
  const auto a = f32_bytes({1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f});
  const std::vector<uint8_t> b = {1, 2, 3};
  const auto c = f64_bytes({3.0});
  const std::vector<TensorView> in = {
      {"a", TensorDtype::F32, {2, 3}, a.data(), a.size()},
      {"scalar", TensorDtype::F64, {}, c.data(), c.size()},
      {"bytes", TensorDtype::U8, {3}, b.data(), b.size()},
      {"empty", TensorDtype::F32, {0, 4}, nullptr, 0},
  };
  const auto file = write_safetensors(in, {{"k", "v"}, {"a", "b"}});
  const uint64_t n = file[0] | uint64_t{file[1]} << 8;
  EXPECT_EQ(n % 8, 0u) << "data must start 8-aligned";
  EXPECT_EQ(file.size(), 8 + n + a.size() + b.size() + c.size());

  const auto out = parse(file);
  EXPECT_EQ(out.data_begin, 8 + n);
  EXPECT_EQ(out.metadata, (std::map<std::string, std::string>{{"a", "b"}, {"k", "v"}}));
  ASSERT_EQ(out.tensors.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out.tensors[i].name, in[i].name);
    EXPECT_EQ(out.tensors[i].dtype, in[i].dtype);
    EXPECT_EQ(out.tensors[i].shape, in[i].shape);
    ASSERT_EQ(out.tensors[i].size, in[i].size);
    if (in[i].size) {
      EXPECT_EQ(0, std::memcmp(out.tensors[i].data, in[i].data, in[i].size));
    }
  }
}

TEST(Safetensors, HeaderListsMetadataThenTensorsInOrderWithContiguousOffsets) {
  const auto a = f32_bytes({1, 2});
  const auto b = f32_bytes({3});
  const auto file = write_safetensors({{"z", TensorDtype::F32, {2}, a.data(), a.size()},
                                       {"y", TensorDtype::F32, {1}, b.data(), b.size()}},
                                      {{"m", "1"}});
  const std::string header(file.begin() + 8, file.end() - 12);
  const std::string json = "{\"__metadata__\":{\"m\":\"1\"},"
                           "\"z\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
  ASSERT_GE(header.size(), json.size());
  EXPECT_EQ(header.substr(0, json.size()), json);
  EXPECT_EQ(header.substr(json.size()), std::string(header.size() - json.size(), ' '));
}

TEST(Safetensors, SameInputSameBytes) {
  const auto a = f32_bytes({1, 2, 3});
  const std::vector<TensorView> in = {{"w", TensorDtype::F32, {3}, a.data(), a.size()}};
  EXPECT_EQ(write_safetensors(in, {{"x", "y"}}), write_safetensors(in, {{"x", "y"}}));
}

TEST(Safetensors, EmptyFileWithoutTensorsIsValid) {
  const auto out = parse(write_safetensors({}, {}));
  EXPECT_TRUE(out.tensors.empty());
  EXPECT_TRUE(out.metadata.empty());
}

TEST(Safetensors, WriterRefusesBadInput) {
  const auto a = f32_bytes({1, 2});
  const TensorView ok{"a", TensorDtype::F32, {2}, a.data(), a.size()};
  auto with = [&](auto edit) {
    TensorView t = ok;
    edit(t);
    return std::vector<TensorView>{t};
  };
  expect_error([&] { write_safetensors({ok, ok}, {}); }, ErrorKind::InvalidArgument, "twice");
  expect_error([&] { write_safetensors(with([](TensorView& t) { t.name = ""; }), {}); },
               ErrorKind::InvalidArgument, "invalid tensor name");
  expect_error([&] { write_safetensors(with([](TensorView& t) { t.name = "__metadata__"; }), {}); },
               ErrorKind::InvalidArgument, "invalid tensor name");
  expect_error([&] { write_safetensors(with([](TensorView& t) { t.shape = {3}; }), {}); },
               ErrorKind::InvalidArgument, "need 12 bytes, got 8");
  expect_error([&] { write_safetensors(with([](TensorView& t) { t.shape = {-2}; }), {}); },
               ErrorKind::InvalidArgument, "negative");
  expect_error([&] { write_safetensors(with([](TensorView& t) { t.name = "bad\xff"; }), {}); },
               ErrorKind::InvalidArgument, "UTF-8");
  const std::vector<uint8_t> one_byte = {1};
  expect_error([&] { write_safetensors({{"b", TensorDtype::U8, {1}, one_byte.data(), 1}, ok}, {}); },
               ErrorKind::InvalidArgument, "tensor 'a' would start at byte 1, not aligned");
}

// --- the reader refuses each malformation, naming it ---------------------------------------

TEST(SafetensorsReader, TooShortForTheLength) {
  expect_refused({}, "too short");
  expect_refused({1, 0, 0}, "too short");
}

TEST(SafetensorsReader, HeaderLengthPastTheEnd) {
  auto f = raw_file("{}");
  f[0] = 3;  // claims 3 bytes, has 2
  expect_refused(f, "header length 3 runs past the end of the file (10 bytes");
}

TEST(SafetensorsReader, HeaderLengthAbsurd) {
  auto f = raw_file("{}");
  f[7] = 0x80;  // 2^63 + 2
  expect_refused(f, "exceeds the limit of 104857600 bytes");
}

TEST(SafetensorsReader, HeaderMustBeOneJsonObject) {
  expect_refused(raw_file("[]"), "must start with '{'");
  expect_refused(raw_file(" {}"), "must start with '{'");
  expect_refused(raw_file("\xEF\xBB\xBF{}"), "must start with '{'");
  expect_refused(raw_file("{}\n"), "followed only by space padding");
  expect_refused(raw_file("{}  x "), "followed only by space padding");
  expect_refused(raw_file("{} {}"), "invalid JSON");
  EXPECT_NO_THROW(parse(raw_file("{}      ")));
}

TEST(SafetensorsReader, InvalidJson) {
  expect_refused(raw_file("{\"t\": {\"dtype\": F32}}"), "header: invalid JSON");
  expect_refused(raw_file("{\"t\" 1}"), "header: invalid JSON");
}

TEST(SafetensorsReader, InvalidUtf8) {
  expect_refused(raw_file("{\"\xC3\x28\": 1}"), "header: invalid JSON");
  expect_refused(raw_file("{\"__metadata__\": {\"k\": \"\xFF\"}}"), "header: invalid JSON");
  // The message itself stays printable ASCII.
  try {
    parse(raw_file("{\"\xC3\x28\": 1}"));
  } catch (const Error& e) {
    for (const char c : std::string(e.what())) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << e.what();
  }
}

TEST(SafetensorsReader, DuplicateKeys) {
  const std::string e = "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}";
  expect_refused(raw_file("{\"t\":" + e + ",\"t\":" + e + "}", {1}), "header: duplicate key 't'");
  expect_refused(
      raw_file(one("{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}"), {1}),
      "duplicate key 'dtype'");
  expect_refused(raw_file("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}"), "duplicate key 'a'");
}

TEST(SafetensorsReader, NestingIsBounded) {
  const std::string deep = "{\"t\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  expect_refused(raw_file(deep), "nested deeper than 3 levels");
}

TEST(SafetensorsReader, EntryMustBeAnObjectWithExactlyTheThreeFields) {
  expect_refused(raw_file(one("[1]")), "tensor 't': entry must be an object");
  expect_refused(raw_file(one("{\"dtype\":\"U8\",\"shape\":[1]}"), {1}),
                 "tensor 't': missing field \"data_offsets\"");
  expect_refused(
      raw_file(one("{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":0}"), {1}),
      "tensor 't': unexpected field 'extra'");
  expect_refused(raw_file("{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", {1}),
                 "empty name");
}

TEST(SafetensorsReader, UnknownDtype) {
  expect_refused(raw_file(one("{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}"),
                          std::vector<uint8_t>(16)),
                 "tensor 't': unknown dtype 'F128'");
  expect_refused(raw_file(one("{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}"),
                          std::vector<uint8_t>(4)),
                 "\"dtype\" must be a string");
}

TEST(SafetensorsReader, BadDimensions) {
  auto f = [](const std::string& shape) {
    return raw_file(one("{\"dtype\":\"U8\",\"shape\":" + shape + ",\"data_offsets\":[0,1]}"), {1});
  };
  expect_refused(f("[-1]"), "dimension 0 is negative");
  expect_refused(f("[1.0]"), "dimension 0 must be an integer");
  expect_refused(f("[\"1\"]"), "dimension 0 must be a number");
  expect_refused(f("[1, 99999999999999999999999]"), "dimension 1 must be an integer (or is too large)");
  expect_refused(f("[9007199254740993]"), "dimension 0 is too large");
  expect_refused(f("[1099511627776, 1099511627776, 1099511627776]"), "byte size overflows");
  expect_refused(f("1"), "\"shape\" must be an array");
  std::string many = "[1";
  for (int i = 0; i < 32; ++i) many += ",1";
  expect_refused(f(many + "]"), "33 dimensions, more than 32");
}

TEST(SafetensorsReader, BadOffsets) {
  auto f = [](const std::string& offsets, std::size_t data) {
    return raw_file(one("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + offsets + "}"),
                    std::vector<uint8_t>(data));
  };
  expect_refused(f("[0]", 8), "\"data_offsets\" must be [begin, end]");
  expect_refused(f("[0,8,8]", 8), "\"data_offsets\" must be [begin, end]");
  expect_refused(f("{}", 8), "\"data_offsets\" must be [begin, end]");
  expect_refused(f("[8,0]", 8), "data_offsets [8, 0] end before they begin");
  expect_refused(f("[0,-8]", 8), "data_offsets end is negative");
  expect_refused(f("[0,12]", 8), "data_offsets [0, 12] out of range: the data section has 8 bytes");
  expect_refused(f("[0,4]", 8), "need 8 bytes but data_offsets cover 4");
}

TEST(SafetensorsReader, Misaligned) {
  // A 2-byte U8 tensor, then an F32 tensor at offset 2.
  const std::string h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}";
  expect_refused(raw_file(h, std::vector<uint8_t>(6)),
                 "tensor 'b': data offset 2 is not aligned to the 4-byte element size");
  // An empty tensor has no elements to misalign.
  const std::string empty = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                            "\"b\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[2,2]}}";
  EXPECT_NO_THROW(parse(raw_file(empty, std::vector<uint8_t>(2))));
}

TEST(SafetensorsReader, Overlap) {
  const std::string h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
  expect_refused(raw_file(h, std::vector<uint8_t>(12)),
                 "tensor 'b': data_offsets [4, 12] overlap tensor 'a'");
  const std::string same = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  expect_refused(raw_file(same, std::vector<uint8_t>(8)), "overlap tensor 'a'");
  // An empty tensor inside another's bytes overlaps too.
  const std::string inside = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}";
  expect_refused(raw_file(inside, std::vector<uint8_t>(8)), "tensor 'e'");
}

TEST(SafetensorsReader, Hole) {
  const std::string h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
  expect_refused(raw_file(h, std::vector<uint8_t>(12)),
                 "hole in the data section: bytes [4, 8) belong to no tensor");
  expect_refused(raw_file(one("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}"),
                          std::vector<uint8_t>(8)),
                 "bytes [0, 4) belong to no tensor");
}

TEST(SafetensorsReader, TrailingGarbage) {
  expect_refused(raw_file(one("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"),
                          std::vector<uint8_t>(5)),
                 "1 trailing bytes after the last tensor");
  expect_refused(raw_file("{}", {0}), "1 trailing bytes");
}

TEST(SafetensorsReader, Metadata) {
  expect_refused(raw_file("{\"__metadata__\":[]}"), "\"__metadata__\" must be an object");
  expect_refused(raw_file("{\"__metadata__\":{\"step\":3}}"),
                 "\"__metadata__\" value for 'step' must be a string");
  expect_refused(raw_file("{\"__metadata__\":{\"a\":{}}}"), "value for 'a' must be a string");
  EXPECT_EQ(parse(raw_file("{\"__metadata__\":{\"a\":\"\"}}")).metadata.at("a"), "");
}

TEST(SafetensorsReader, ReadsTensorsInDataOrderWhateverTheHeaderOrder) {
  const std::string h = "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
                        "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
  const auto f = raw_file(h, {10, 20});
  const auto out = parse(f);
  ASSERT_EQ(out.tensors.size(), 2u);
  EXPECT_EQ(out.tensors[0].name, "a");
  EXPECT_EQ(out.tensors[0].data[0], 10);
  EXPECT_EQ(out.tensors[1].name, "b");
  EXPECT_EQ(out.tensors[1].data[0], 20);
}

TEST(SafetensorsReader, MetadataOnlyPeekSkipsTensorChecks) {
  const auto f = raw_file(
      "{\"__metadata__\":{\"v\":\"9\",\"n\":1},\"t\":{\"dtype\":\"F4\",\"shape\":[1],\"data_offsets\":[0,1]}}",
      {0});
  EXPECT_EQ(parse_safetensors_metadata(f.data(), f.size()),
            (std::map<std::string, std::string>{{"v", "9"}}));
  expect_format_error([&] { parse_safetensors_metadata(f.data(), 4); }, "too short");
}

}  // namespace
}  // namespace mamlpp::io::test
