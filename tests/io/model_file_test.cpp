// The model file: round trips, what the metadata says, and refusal of everything that does not
// match the config.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/layout.hpp"
#include "io/config_json.hpp"
#include "io/model_file.hpp"
#include "mamlpp/mamlpp.h"
#include "test_model.hpp"

namespace mamlpp::io::test {
namespace {

ModelFile decode(const std::vector<uint8_t>& b) { return decode_model_file(b.data(), b.size()); }

void expect_same(const ModelFile& a, const ModelFile& b) {
  EXPECT_EQ(config_to_json(a.config), config_to_json(b.config));
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.has_optimizer, b.has_optimizer);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
    EXPECT_EQ(a.tensors[i].dtype, b.tensors[i].dtype);
    EXPECT_EQ(a.tensors[i].shape, b.tensors[i].shape);
    EXPECT_EQ(a.tensors[i].bytes, b.tensors[i].bytes) << a.tensors[i].name;
  }
}

Config variant(int which) {
  Config c = tiny_config();
  switch (which) {
    case 1: c.dtype = DType::Float64; break;
    case 2: c.learn_inner_lr = false; c.per_step_bn = false; break;
    case 3: c.max_pool = false; c.num_stages = 2; c.image_channels = 3; c.n_way = 3; break;
    case 4: c.num_stages = 2; c.adapt_last_layers = 1; break;  // ANIL: inner rates for the head only
    case 5:  // 1.3: an MLP regression model
      c.backbone = Backbone::Mlp;
      c.input_features = 3;
      c.hidden_layers = 3;
      c.hidden_sizes = HiddenSizes{5, 4, 2, 0, 0, 0, 0, 0};
      c.activation = Activation::Relu;
      c.task_kind = TaskKind::Regression;
      c.n_outputs = 2;
      break;
    case 6:  // 1.3: an MLP classifier without batch norm (no bn.* tensors)
      c.backbone = Backbone::Mlp;
      c.input_features = 4;
      c.batch_norm = false;
      break;
    default: break;
  }
  return c;
}

TEST(ModelFile, RoundTripIsByteExact) {
  for (int v = 0; v < 7; ++v)
    for (bool opt : {true, false}) {
      SCOPED_TRACE("variant " + std::to_string(v) + (opt ? " with optimizer" : " inference only"));
      const ModelFile m = make_model(variant(v), opt, 3, 1234);
      const auto bytes = encode_model_file(m);
      const ModelFile back = decode(bytes);
      expect_same(m, back);
      EXPECT_EQ(encode_model_file(back), bytes);
      EXPECT_EQ(back.format_version, "1.3");
      EXPECT_EQ(back.library_version, MAMLPP_VERSION_STRING);
    }
}

TEST(ModelFile, EncodingIsDeterministicAndIndependentOfInputOrder) {
  ModelFile m = make_model(tiny_config(), true);
  const auto bytes = encode_model_file(m);
  EXPECT_EQ(encode_model_file(m), bytes);
  std::reverse(m.tensors.begin(), m.tensors.end());
  EXPECT_EQ(encode_model_file(m), bytes);
}

TEST(ModelFile, TensorsInLayoutOrder) {
  const Config c = tiny_config();
  const ModelFile back = decode(tiny_file(true));
  const Layout l = make_layout(c);
  std::vector<std::string> want;
  for (const auto* g : {&l.adapted, &l.bn_affine, &l.bn_running, &l.lslr})
    for (const auto& t : *g) want.push_back(t.name);
  for (const auto& p : l.meta_parameters(c)) want.push_back("adam.m." + p.name);
  for (const auto& p : l.meta_parameters(c)) want.push_back("adam.v." + p.name);
  std::vector<std::string> got;
  for (const auto& t : back.tensors) got.push_back(t.name);
  EXPECT_EQ(got, want);
  EXPECT_EQ(got.front(), "backbone.stage0.conv.weight");
  EXPECT_EQ(got.back(), "adam.v.lslr.backbone.head.bias");
  // And the file's data section is in that order too.
  const auto sf = parse_safetensors(tiny_file(true).data(), tiny_file(true).size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(sf.tensors[i].name, want[i]);
}

TEST(ModelFile, InferenceOnlyFilesOmitAdamMoments) {
  const ModelFile back = decode(tiny_file(false));
  EXPECT_FALSE(back.has_optimizer);
  for (const auto& t : back.tensors) EXPECT_NE(t.name.rfind("adam.", 0), 0u) << t.name;
  EXPECT_LT(tiny_file(false).size(), tiny_file(true).size());
}

TEST(ModelFile, LslrRowsPresentWithoutLearnedRatesButNotInAdam) {
  Config c = tiny_config();
  c.learn_inner_lr = false;
  const ModelFile back = decode(encode_model_file(make_model(c, true)));
  bool lslr = false, adam_lslr = false;
  for (const auto& t : back.tensors) {
    lslr |= t.name == "lslr.backbone.head.bias";
    adam_lslr |= t.name.find("adam.m.lslr.") == 0;
  }
  EXPECT_TRUE(lslr);
  EXPECT_FALSE(adam_lslr);
}

TEST(ModelFile, MetadataKeysAndFormats) {
  const auto sf = parse_safetensors(tiny_file(true).data(), tiny_file(true).size());
  const auto& md = sf.metadata;
  EXPECT_EQ(md.size(), 7u);
  EXPECT_EQ(md.at("format"), "libmamlpp");
  EXPECT_EQ(md.at("format_version"), "1.3");
  EXPECT_EQ(md.at("library_version"), MAMLPP_VERSION_STRING);
  EXPECT_EQ(md.at("step"), "42");
  EXPECT_EQ(md.at("has_optimizer"), "true");
  EXPECT_EQ(md.at("dtype"), "float32");
  EXPECT_EQ(md.at("config"),
            "{\"n_way\":2,\"image_channels\":1,\"image_height\":4,\"image_width\":4,"
            "\"num_stages\":1,\"num_filters\":2,\"max_pool\":1,\"inner_steps\":2,"
            "\"eval_inner_steps\":3,\"inner_lr\":0.1,\"learn_inner_lr\":1,\"per_step_bn\":1,"
            "\"bn_stats\":2,\"multi_step_loss\":1,\"msl_epochs\":10,\"second_order\":1,"
            "\"first_order_epochs\":50,\"meta_lr\":0.001,\"meta_lr_min\":1e-05,"
            "\"adam_beta1\":0.9,\"adam_beta2\":0.99,\"grad_clip\":0.0,\"epochs\":150,"
            "\"iters_per_epoch\":500,\"device_type\":0,\"device_index\":0,\"seed\":7,"
            "\"task_batching\":0,\"num_threads\":0,\"dtype\":0,\"grad_clip_lslr\":0,"
            "\"adapt_last_layers\":0,\"backbone\":0,\"input_features\":1,\"hidden_layers\":2,"
            "\"hidden_sizes\":[40,40],\"activation\":0,\"task_kind\":0,\"n_outputs\":1,\"batch_norm\":1}");
}

TEST(ModelFile, ConfigJsonRoundTripsEveryFieldExactly) {
  Config c = tiny_config();
  c.inner_lr = 0.3f;
  c.learn_inner_lr = false;
  c.per_step_bn = false;
  c.bn_stats = BnStats::Support;
  c.multi_step_loss = false;
  c.second_order = false;
  c.meta_lr = 3.4e38f;
  c.meta_lr_min = 1.17549435e-38f;
  c.adam_beta1 = 0.123456789f;
  c.adam_beta2 = std::nextafter(0.99f, 1.0f);
  c.grad_clip = 1e-7f;
  c.device_type = DeviceType::Cuda;
  c.device_index = 3;
  c.seed = std::numeric_limits<uint64_t>::max();
  c.task_batching = TaskBatching::Batched;
  c.num_threads = 12;
  c.dtype = DType::Float64;
  const std::string text = config_to_json(c);
  const Config back = config_from_json(text, kFormatVersion);
  EXPECT_EQ(config_to_json(back), text);
  EXPECT_EQ(back.seed, c.seed);
  EXPECT_EQ(back.meta_lr, c.meta_lr);
  EXPECT_EQ(back.meta_lr_min, c.meta_lr_min);
  EXPECT_EQ(back.adam_beta1, c.adam_beta1);
  EXPECT_EQ(back.adam_beta2, c.adam_beta2);
  EXPECT_EQ(back.grad_clip, c.grad_clip);
  EXPECT_EQ(back.bn_stats, BnStats::Support);
  EXPECT_EQ(back.task_batching, TaskBatching::Batched);
  EXPECT_EQ(back.device_type, DeviceType::Cuda);
  EXPECT_FALSE(back.second_order);
  EXPECT_NE(text.find("\"inner_lr\":0.3,"), std::string::npos) << text;
}

TEST(ModelFile, FloatsRoundTripExactlyAcrossManyValues) {
  uint32_t bits = 12345;
  for (int i = 0; i < 20000; ++i) {
    bits = bits * 1664525u + 1013904223u;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    if (!std::isfinite(f)) continue;
    Config c = tiny_config();
    c.grad_clip = f;
    ASSERT_EQ(config_from_json(config_to_json(c), kFormatVersion).grad_clip, f) << bits;
  }
}

// --- encode refuses what could never be loaded ---------------------------------------------

TEST(ModelFileEncode, RefusesInputThatDisagreesWithTheConfig) {
  const ModelFile good = make_model(tiny_config(), true);
  auto encode_with = [&](auto edit) {
    ModelFile m = good;
    edit(m);
    return [m] { encode_model_file(m); };
  };
  expect_error(encode_with([](ModelFile& m) { m.tensors.pop_back(); }), ErrorKind::InvalidArgument,
               "missing tensors 'adam.v.lslr.backbone.head.bias'");
  expect_error(encode_with([](ModelFile& m) { m.tensors.push_back(m.tensors[0]); }),
               ErrorKind::InvalidArgument, "given twice");
  expect_error(encode_with([](ModelFile& m) { m.tensors[0].name = "x"; }),
               ErrorKind::InvalidArgument, "missing tensors 'backbone.stage0.conv.weight'");
  expect_error(encode_with([](ModelFile& m) { m.has_optimizer = false; }),
               ErrorKind::InvalidArgument, "unexpected tensors 'adam.m.backbone.head.bias'");
  expect_error(encode_with([](ModelFile& m) { m.tensors[1].shape = {3}; }),
               ErrorKind::InvalidArgument, "has shape [3], the config needs [2]");
  expect_error(encode_with([](ModelFile& m) { m.tensors[1].bytes.pop_back(); }),
               ErrorKind::InvalidArgument, "has 7 bytes, its shape needs 8");
  expect_error(encode_with([](ModelFile& m) { m.tensors[1].dtype = TensorDtype::F64; }),
               ErrorKind::InvalidArgument, "has dtype F64, the config needs F32");
  expect_error(encode_with([](ModelFile& m) { m.step = -1; }), ErrorKind::InvalidArgument,
               "step is negative");
  expect_error(encode_with([](ModelFile& m) { m.config.num_stages = 0; }),
               ErrorKind::InvalidArgument, "num_stages");
  expect_error(encode_with([](ModelFile& m) { m.user_metadata["step"] = "1"; }),
               ErrorKind::InvalidArgument, "'step' is reserved");
  expect_error(encode_with([](ModelFile& m) {
                 const auto nan = f32_bytes({std::nanf("")});
                 std::copy(nan.begin(), nan.end(), m.tensors[0].bytes.begin() + 4 * 5);
               }),
               ErrorKind::Numerical,
               "refusing to save: tensor 'backbone.stage0.conv.weight' holds NaN at element 5");
}

TEST(ModelFileEncode, ExtraMetadataRoundTrips) {
  ModelFile m = make_model(tiny_config(), false);
  m.user_metadata["note"] = "trained on omniglot";
  const auto back = decode(encode_model_file(m));
  EXPECT_EQ(back.user_metadata, m.user_metadata);
}

// --- decode refuses each malformation, naming it -------------------------------------------

std::vector<uint8_t> with_metadata(const std::string& key, const std::string& value) {
  EditableFile f(tiny_file(true));
  f.metadata[key] = value;
  return f.build();
}

std::vector<uint8_t> with_config(const std::function<void(nlohmann::ordered_json&)>& edit) {
  EditableFile f(tiny_file(true));
  auto cfg = nlohmann::ordered_json::parse(f.metadata.at("config"));
  edit(cfg);
  f.metadata["config"] = cfg.dump();
  return f.build();
}

TEST(ModelFileDecode, NewerMajorIsRefusedNamingBothVersions) {
  const std::string want = "file format 2.0 is newer than this library's 1.3; upgrade libmamlpp";
  EXPECT_EQ(decode_error(with_metadata("format_version", "2.0")), want);
  // Even when the newer major also changed the layout beyond what this reader accepts.
  EditableFile f(tiny_file(false));
  f.metadata["format_version"] = "2.0";
  f.tensors[0].dtype = TensorDtype::I32;
  auto bytes = f.build();
  const std::string pattern = "\"dtype\":\"I32\"";
  const auto at = std::search(bytes.begin(), bytes.end(), pattern.begin(), pattern.end());
  ASSERT_NE(at, bytes.end());
  std::copy_n("\"dtype\":\"F4\" ", pattern.size(), at);  // a dtype this reader does not know
  EXPECT_EQ(decode_error(bytes), want);
}

TEST(ModelFileDecode, NewerMinorIsReadIgnoringWhatItAdds) {
  EditableFile f(tiny_file(true));
  f.metadata["format_version"] = "1.7";
  f.metadata["new_key"] = "x";
  auto cfg = nlohmann::ordered_json::parse(f.metadata.at("config"));
  cfg["new_field"] = 5;
  f.metadata["config"] = cfg.dump();
  const ModelFile back = decode(f.build());
  EXPECT_EQ(back.format_version, "1.7");
  EXPECT_EQ(back.user_metadata.at("new_key"), "x");
  EXPECT_EQ(config_to_json(back.config), config_to_json(tiny_config()));
}

// A file written by libmamlpp 1.0 (format 1.0) has no field added since: each takes its default.
TEST(ModelFileDecode, OlderMinorGetsTheDefaultsOfLaterFields) {
  EditableFile f(tiny_file(true));
  f.metadata["format_version"] = "1.0";
  auto cfg = nlohmann::ordered_json::parse(f.metadata.at("config"));
  ASSERT_TRUE(cfg.contains("grad_clip_lslr"));
  ASSERT_TRUE(cfg.contains("adapt_last_layers"));
  cfg.erase("grad_clip_lslr");
  cfg.erase("adapt_last_layers");
  for (const char* field : {"backbone", "input_features", "hidden_layers", "hidden_sizes", "activation", "task_kind",
                            "n_outputs", "batch_norm"})
    cfg.erase(field);
  f.metadata["config"] = cfg.dump();
  const ModelFile back = decode(f.build());
  EXPECT_EQ(back.format_version, "1.0");
  EXPECT_FALSE(back.config.grad_clip_lslr);
  EXPECT_EQ(back.config.adapt_last_layers, 0);
  // A 1.1 file has grad_clip_lslr but not the 1.2 field, which takes its default.
  f.metadata["format_version"] = "1.1";
  EXPECT_EQ(decode_error(f.build()), "config: missing field \"grad_clip_lslr\"");
  cfg["grad_clip_lslr"] = 1;
  f.metadata["config"] = cfg.dump();
  const ModelFile v11 = decode(f.build());
  EXPECT_TRUE(v11.config.grad_clip_lslr);
  EXPECT_EQ(v11.config.adapt_last_layers, 0);
  // The 1.2 field missing from a 1.2 file is an error.
  f.metadata["format_version"] = "1.2";
  EXPECT_EQ(decode_error(f.build()), "config: missing field \"adapt_last_layers\"");
  // A 1.2 file has adapt_last_layers but none of the 1.3 fields: a conv classifier, as before.
  cfg["adapt_last_layers"] = 0;
  f.metadata["config"] = cfg.dump();
  const ModelFile v12 = decode(f.build());
  EXPECT_EQ(v12.config.backbone, Backbone::Conv);
  EXPECT_EQ(v12.config.task_kind, TaskKind::Classification);
  EXPECT_TRUE(v12.config.batch_norm);
  EXPECT_EQ(v12.config.activation, Activation::LeakyRelu);
  EXPECT_EQ(v12.config.hidden_sizes, kDefaultHiddenSizes);
  // The 1.3 fields missing from a 1.3 file are an error.
  f.metadata["format_version"] = "1.3";
  EXPECT_EQ(decode_error(f.build()), "config: missing field \"backbone\"");
}

TEST(ModelFileDecode, FormatAndVersionMetadata) {
  EXPECT_EQ(decode_error(with_metadata("format", "gguf")),
            "not a libmamlpp file: metadata \"format\" is 'gguf'");
  EditableFile no_md(tiny_file(true));
  no_md.metadata.clear();
  EXPECT_EQ(decode_error(no_md.build()), "not a libmamlpp file: metadata \"format\" is missing");
  for (const char* bad : {"1", "1.", ".0", "01.0", "1.0.0", "v1.0", "1.-1", "1234567.0"})
    EXPECT_NE(decode_error(with_metadata("format_version", bad)).find("is not a version"),
              std::string::npos)
        << bad;
  EXPECT_EQ(decode_error(with_metadata("format_version", "0.9")),
            "file format 0.9 does not exist (the first is 1.0)");
  EditableFile no_version(tiny_file(true));
  no_version.metadata.erase("format_version");
  EXPECT_EQ(decode_error(no_version.build()), "metadata \"format_version\" is missing");
  EditableFile no_lib(tiny_file(true));
  no_lib.metadata.erase("library_version");
  EXPECT_EQ(decode_error(no_lib.build()), "metadata \"library_version\" is missing");
}

TEST(ModelFileDecode, StepOptimizerAndDtypeMetadata) {
  for (const char* bad : {"-1", "", "01", "1e3", " 1", "9223372036854775808", "99999999999999999999"})
    EXPECT_NE(decode_error(with_metadata("step", bad)).find("metadata \"step\""), std::string::npos)
        << bad;
  EXPECT_EQ(decode(with_metadata("step", "9223372036854775807")).step,
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(decode(with_metadata("step", "0")).step, 0);
  EXPECT_EQ(decode_error(with_metadata("has_optimizer", "1")),
            "metadata \"has_optimizer\" must be \"true\" or \"false\", not '1'");
  EXPECT_EQ(decode_error(with_metadata("dtype", "float64")),
            "metadata \"dtype\" 'float64' disagrees with the config's float32");
}

TEST(ModelFileDecode, ConfigProblems) {
  EXPECT_NE(decode_error(with_metadata("config", "{\"n_way\": ")).find("metadata \"config\": invalid JSON"),
            std::string::npos);
  EXPECT_EQ(decode_error(with_metadata("config", "[]")), "metadata \"config\" is not a JSON object");
  EXPECT_EQ(decode_error(with_config([](auto& c) { c.erase("seed"); })),
            "config: missing field \"seed\"");
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["surprise"] = 1; })),
            "config: unexpected field 'surprise' in a format 1.3 file");
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["n_way"] = 2.5; })),
            "config: \"n_way\" must be an integer");
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["n_way"] = 1ll << 40; })),
            "config: \"n_way\" is out of range");
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["max_pool"] = 2; })),
            "config: \"max_pool\" is out of range");
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["seed"] = -1; })),
            "config: \"seed\" must be an unsigned 64-bit integer");
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["inner_lr"] = 1e300; })),
            "config: \"inner_lr\" is out of float range");
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["inner_lr"] = "0.1"; })),
            "config: \"inner_lr\" must be a number");
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["nested"] = {{"a", {1}}}; })),
            "metadata \"config\": JSON nested deeper than 2 levels");
  // hidden_sizes: an array of at most 8 integers.
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["hidden_sizes"] = 40; })),
            "config: \"hidden_sizes\" must be an array of at most 8 integers");
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["hidden_sizes"] = {1, 2, 3, 4, 5, 6, 7, 8, 9}; })),
            "config: \"hidden_sizes\" must be an array of at most 8 integers");
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["hidden_sizes"] = {40, 2.5}; })),
            "config: \"hidden_sizes\" must be an integer");
  // Semantically invalid: mamlpp::validate's message, as a format error.
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["num_stages"] = 0; })),
            "metadata \"config\": invalid config: num_stages must be in [1, 16], got 0");
  EXPECT_NE(decode_error(with_config([](auto& c) { c["num_stages"] = 3; })).find("too small"),
            std::string::npos);
  // A duplicate key inside the config string.
  std::string text = EditableFile(tiny_file(true)).metadata.at("config");
  text.insert(1, "\"n_way\":9,");
  EXPECT_EQ(decode_error(with_metadata("config", text)),
            "metadata \"config\": duplicate key 'n_way'");
}

TEST(ModelFileDecode, ShapeMismatchAgainstTheConfig) {
  // The file's tensors are for 2-way; a config that says 3-way needs a larger head.
  EXPECT_EQ(decode_error(with_config([](auto& c) { c["n_way"] = 3; })),
            "tensor 'backbone.head.weight' has shape [2, 8], the config needs [3, 8]");
  EditableFile f(tiny_file(true));
  f.tensor("bn.stage0.gamma").shape = {4};
  EXPECT_EQ(decode_error(f.build()),
            "tensor 'bn.stage0.gamma' has shape [4], the config needs [2, 2]");
}

TEST(ModelFileDecode, WrongDtype) {
  EditableFile f(tiny_file(true));
  f.tensor("lslr.backbone.head.bias").dtype = TensorDtype::I32;
  EXPECT_EQ(decode_error(f.build()),
            "tensor 'lslr.backbone.head.bias' has dtype I32, the config's dtype needs F32");
}

TEST(ModelFileDecode, MissingAndUnexpectedTensors) {
  EditableFile missing(tiny_file(true));
  missing.remove("bn.stage0.running_var");
  missing.remove("adam.m.backbone.head.bias");
  EXPECT_EQ(decode_error(missing.build()),
            "missing tensors 'bn.stage0.running_var', 'adam.m.backbone.head.bias' (the config "
            "needs 32)");
  EditableFile extra(tiny_file(false));
  extra.tensors.push_back({"extra", TensorDtype::F32, {1}, f32_bytes({1})});
  EXPECT_EQ(decode_error(extra.build()),
            "unexpected tensors 'extra' (not in the config's layout; has_optimizer is false)");
  // Moments in a file that says it has none.
  EXPECT_EQ(decode_error(with_metadata("has_optimizer", "false")).rfind("unexpected tensors 'adam.m.", 0),
            0u);
  // No moments in a file that says it has them.
  EditableFile opt(tiny_file(false));
  opt.metadata["has_optimizer"] = "true";
  EXPECT_EQ(decode_error(opt.build()).rfind("missing tensors 'adam.m.backbone.stage0.conv.weight'", 0),
            0u);
}

TEST(ModelFileDecode, NonFiniteOrImpossibleValues) {
  auto with_value = [](const std::string& name, std::size_t index, double v, bool f64 = false) {
    Config c = tiny_config();
    if (f64) c.dtype = DType::Float64;
    EditableFile f(encode_model_file(make_model(c, true)));
    auto& bytes = f.tensor(name).bytes;
    const auto e = f64 ? f64_bytes({v}) : f32_bytes({static_cast<float>(v)});
    std::copy(e.begin(), e.end(), bytes.begin() + e.size() * index);
    return f.build();
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(decode_error(with_value("backbone.head.weight", 3, nan)),
            "tensor 'backbone.head.weight' holds NaN at element 3");
  EXPECT_EQ(decode_error(with_value("backbone.head.weight", 0, -inf, true)),
            "tensor 'backbone.head.weight' holds an infinity at element 0");
  EXPECT_EQ(decode_error(with_value("adam.m.bn.stage0.beta", 1, inf)),
            "tensor 'adam.m.bn.stage0.beta' holds an infinity at element 1");
  EXPECT_EQ(decode_error(with_value("lslr.backbone.stage0.conv.bias", 1, nan)),
            "tensor 'lslr.backbone.stage0.conv.bias' holds NaN at element 1");
  EXPECT_EQ(decode_error(with_value("bn.stage0.running_var", 2, -0.5)),
            "tensor 'bn.stage0.running_var' holds a negative value at element 2 (it must be >= 0)");
  EXPECT_EQ(decode_error(with_value("adam.v.backbone.head.bias", 0, -1e-30, true)),
            "tensor 'adam.v.backbone.head.bias' holds a negative value at element 0 (it must be >= 0)");
  // Negative values elsewhere are fine (weights, means, first moments).
  EXPECT_NO_THROW(decode(with_value("bn.stage0.running_mean", 0, -3.0)));
  EXPECT_NO_THROW(decode(with_value("adam.m.backbone.head.bias", 0, -3.0)));
}

}  // namespace
}  // namespace mamlpp::io::test
