// Headers built to pin the reader: tens of thousands of tensor entries, 60 MiB of JSON under
// safetensors' 100 MiB cap, and the longest header a model file may have filled with keys,
// strings, numbers, whitespace or nesting. Each must be refused with a Format error. A model
// file's header is capped at 1 MiB and its tensor list at what the largest layout needs, and the
// parser is linear, so each case takes milliseconds (it took minutes when the parser was
// quadratic); the tests print the time but assert only the refusal (timings are not stable
// enough to assert on shared machines).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "core/layout.hpp"
#include "io/model_file.hpp"
#include "io/safetensors.hpp"
#include "io/strict_json.hpp"
#include "test_model.hpp"

namespace mamlpp::io::test {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

// `count` well-formed, empty F32 tensor entries "t<i>" (each needs no data bytes).
std::string many_entries(std::size_t count, std::size_t at_least_bytes = 0) {
  std::string h = "{";
  for (std::size_t i = 0; i < count || h.size() < at_least_bytes; ++i)
    h += (i ? "," : "") + std::string("\"t") + std::to_string(i) +
         "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
  return h + "}";
}

// Decodes `bytes` as a model file; returns the Format error's message, printing the time taken.
std::string refuse(const std::string& label, const std::vector<uint8_t>& bytes) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string message;
  try {
    decode_model_file(bytes.data(), bytes.size());
    ADD_FAILURE() << label << ": a hostile header was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Format) << label << ": " << e.what();
    message = e.what();
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ hostile  ] %-44s %8.1f MiB header refused in %8.2f ms: %s\n", label.c_str(),
              static_cast<double>(bytes.size()) / static_cast<double>(kMiB), ms, message.substr(0, 100).c_str());
  return message;
}

TEST(HostileHeader, TensorCountCapIsWhatTheLargestConfigNeeds) {
  // The cap is exact: the largest valid layout (every stage, the optimiser, LSLR learned) fits.
  Config big;
  big.num_stages = kMaxLayoutStages;
  big.max_pool = false;
  big.learn_inner_lr = true;
  EXPECT_NO_THROW(validate(big));
  EXPECT_EQ(file_tensors(big, true).size(), max_model_file_tensors());
  Config too_big = big;
  too_big.num_stages = kMaxLayoutStages + 1;
  EXPECT_THROW(validate(too_big), Error) << "kMaxLayoutStages must follow validate()'s stage limit";
  big.learn_inner_lr = false;
  EXPECT_LE(file_tensors(big, true).size(), max_model_file_tensors());
}

// The largest header a model file may have, filled with `pattern` between "{" and "}".
std::string fill_header(const std::string& open, const std::string& unit, const std::string& close,
                        std::size_t bytes = kMaxModelHeaderSize) {
  std::string h = open;
  while (h.size() + unit.size() + close.size() <= bytes) h += unit;
  return h + close;
}

TEST(HostileHeader, FortyThousandTensorEntriesAreRefused) {
  // 2.2 MiB: over the model-file header limit, refused from the 8-byte length alone.
  std::string msg = refuse("40,000 tensor entries", raw_file(many_entries(40000)));
  EXPECT_NE(msg.find("exceeds the limit of 1048576 bytes for a libmamlpp file"), std::string::npos) << msg;
  // As many as fit under the header limit: refused once the list passes the tensor limit.
  const std::string under = many_entries(0, kMaxModelHeaderSize - 100);
  ASSERT_LE(under.size(), kMaxModelHeaderSize);
  msg = refuse("1 MiB of tensor entries", raw_file(under));
  EXPECT_NE(msg.find("at most " + std::to_string(max_model_file_tensors()) + " tensors for a libmamlpp file"),
            std::string::npos)
      << msg;
}

TEST(HostileHeader, SixtyMebibyteHeaderIsRefusedFromItsLength) {
  const std::string msg = refuse("60 MiB of tensor entries", raw_file(many_entries(0, 60 * kMiB)));
  EXPECT_NE(msg.find("exceeds the limit"), std::string::npos) << msg;
  // The generic safetensors layer takes headers up to 100 MiB; it too refuses the list as soon
  // as it passes its tensor limit, instead of parsing 60 MiB.
  const auto bytes = raw_file(many_entries(0, 60 * kMiB));
  const auto t0 = std::chrono::steady_clock::now();
  expect_format_error([&] { parse_safetensors(bytes.data(), bytes.size()); }, "tensors");
  std::printf("[ hostile  ] parse_safetensors: 60 MiB of tensor entries refused in %.2f ms\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
}

TEST(HostileHeader, MaximalHeadersUnderTheLimitAreRefused) {
  // Whatever fills the largest header a model file may have, it is refused (in linear time).
  refuse("1 MiB of metadata keys", raw_file(fill_header("{\"__metadata__\":{\"k\":\"v\"", ",\"k0000000\":\"v\"", "}}")));
  std::string keys = "{\"__metadata__\":{";
  for (std::size_t i = 0; keys.size() < kMaxModelHeaderSize - 64; ++i) keys += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
  std::string msg = refuse("1 MiB of distinct metadata keys", raw_file(keys + "}}"));
  EXPECT_NE(msg.find("more than"), std::string::npos) << msg;
  refuse("one 1 MiB metadata string", raw_file(fill_header("{\"__metadata__\":{\"format\":\"", "a", "\"}}")));
  refuse("one 1 MiB integer",
         raw_file(fill_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[", "7", "],\"data_offsets\":[0,0]}}")));
  refuse("one 1 MiB float",
         raw_file(fill_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[0.", "7", "],\"data_offsets\":[0,0]}}")));
  refuse("1 MiB of whitespace inside the JSON", raw_file(fill_header("{", "\n", "}")));
  msg = refuse("a 1 MiB shape array",
               raw_file(fill_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1", ",1", "],\"data_offsets\":[0,4]}}"),
                        std::vector<uint8_t>(4)));
  EXPECT_NE(msg.find("more than"), std::string::npos) << msg;
  msg = refuse("1 MiB of nesting", raw_file(fill_header("{\"t\":", "[", "}")));
  EXPECT_NE(msg.find("nested deeper"), std::string::npos) << msg;
}

TEST(HostileHeader, WriterRefusesWhatTheReaderWould) {
  // User metadata is bounded (io/user_metadata.hpp) far below the header limit, so the writer
  // refuses a long value before it could make the header too long.
  ModelFile m = make_model(tiny_config(), true);
  m.user_metadata["notes"] = std::string(kMaxModelHeaderSize, 'x');
  expect_error([&] { encode_model_file(m); }, ErrorKind::InvalidArgument, "at most 65536");
}

TEST(HostileHeader, TheLargestLayoutFitsTheLimits) {
  // The limits must not refuse a real file: the most tensors, with the longest names, and a
  // header far below the limit. (Tiny shapes: the limits concern the header, not the data.)
  Config cfg = tiny_config();
  cfg.num_stages = kMaxLayoutStages;
  cfg.max_pool = false;
  cfg.learn_inner_lr = true;
  const auto bytes = encode_model_file(make_model(cfg, true));
  const ModelFile back = decode_model_file(bytes.data(), bytes.size());
  EXPECT_EQ(back.tensors.size(), max_model_file_tensors());
  const std::size_t header = parse_safetensors(bytes.data(), bytes.size()).data_begin - 8;
  EXPECT_LT(header * 10, kMaxModelHeaderSize) << header << " bytes of header";
}

TEST(StrictJson, LimitsAreEnforced) {
  const auto parse = [](const std::string& text, const JsonLimits& limits) {
    return parse_json_strict(text.data(), text.data() + text.size(), limits, "test");
  };
  JsonLimits limits;
  limits.max_depth = 2;
  limits.max_members = 3;
  EXPECT_EQ(parse("{\"a\":[1,2,3],\"b\":{}}", limits).dump(), "{\"a\":[1,2,3],\"b\":{}}");
  expect_format_error([&] { parse("[1,2,3,4]", limits); }, "more than 3 entries");
  expect_format_error([&] { parse("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", limits); }, "more than 3 entries");
  expect_format_error([&] { parse("[[[1]]]", limits); }, "nested deeper than 2 levels");
  expect_format_error([&] { parse("{\"a\":1,\"a\":1}", limits); }, "duplicate key 'a'");
  expect_format_error([&] { parse("{\"a\":1", limits); }, "invalid JSON");
  expect_format_error([&] { parse("\xEF\xBB\xBF{}", limits); }, "byte order mark");
  limits.allow_byte_order_mark = true;
  EXPECT_TRUE(parse("\xEF\xBB\xBF{}", limits).is_object());
  // Every kind of value comes back as written.
  limits.max_depth = 8;
  limits.max_members = 100;
  const std::string all = "{\"a\":null,\"b\":true,\"c\":false,\"d\":-3,\"e\":18446744073709551615,\"f\":0.5,"
                          "\"g\":\"s\\u00e9\",\"h\":[[],{},[{\"x\":[1]}]]}";
  const nlohmann::json v = parse(all, limits);
  EXPECT_EQ(v, nlohmann::json::parse(all));
  EXPECT_TRUE(v["e"].is_number_unsigned());
  EXPECT_TRUE(v["d"].is_number_integer());
}

TEST(StrictJson, DeepNestingIsRefusedWithoutRecursion) {
  // 100,000 levels: refused at the limit, before anything deep is built.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_format_error([&] { parse_json_strict(deep.data(), deep.data() + deep.size(), 64, "deep"); },
                      "nested deeper than 64 levels");
}

}  // namespace
}  // namespace mamlpp::io::test
