#include "core/config.hpp"

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "core/budget.hpp"

namespace mamlpp {

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw invalid_argument("invalid config: " + what);
}

std::vector<std::string> choices_of(const FieldInfo& field) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(field.choices);
  while (std::getline(in, item, '|')) out.push_back(item);
  return out;
}

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// The table's range and type checks, one overload per field type.
struct RangeCheck {
  void operator()(const FieldInfo& f, int32_t v) const {
    require(v >= f.min && v <= f.max, std::string(f.name) + " must be in [" + number(f.min) + ", " +
                                          number(f.max) + "], got " + std::to_string(v));
  }
  void operator()(const FieldInfo& f, float v) const {
    require(std::isfinite(v) && v >= f.min && v <= f.max,
            std::string(f.name) + " must be a finite number in [" + number(f.min) + ", " +
                number(f.max) + "], got " + number(v));
  }
  void operator()(const FieldInfo&, bool) const {}
  void operator()(const FieldInfo&, const HiddenSizes&) const {}  // needs hidden_layers: validate()
  void operator()(const FieldInfo&, uint64_t) const {}
  template <class E, class = std::enable_if_t<std::is_enum_v<E>>>
  void operator()(const FieldInfo& f, E v) const {
    const auto i = static_cast<int32_t>(v);
    if (i >= 0 && i < choice_count(f)) return;
    std::string names;
    const std::vector<std::string> c = choices_of(f);
    for (size_t k = 0; k < c.size(); ++k) names += (k ? ", " : "") + std::to_string(k) + " (" + c[k] + ")";
    require(false, std::string(f.name) + " must be one of " + names + ", got " + std::to_string(i));
  }
};

}  // namespace

std::string choice_name(const FieldInfo& field, int32_t index) {
  const std::vector<std::string> c = choices_of(field);
  return index >= 0 && index < static_cast<int32_t>(c.size()) ? c[static_cast<size_t>(index)] : "";
}

int32_t choice_count(const FieldInfo& field) { return static_cast<int32_t>(choices_of(field).size()); }

int32_t choice_index(const FieldInfo& field, const std::string& name) {
  const std::vector<std::string> c = choices_of(field);
  for (size_t k = 0; k < c.size(); ++k)
    if (c[k] == name) return static_cast<int32_t>(k);
  return -1;
}

std::vector<int32_t> hidden_sizes_list(const HiddenSizes& v) {
  size_t used = v.size();
  while (used > 0 && v[used - 1] == 0) --used;
  return std::vector<int32_t>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(used));
}

std::string hidden_sizes_text(const HiddenSizes& v) {
  std::string out;
  for (int32_t x : hidden_sizes_list(v)) out += (out.empty() ? "" : ",") + std::to_string(x);
  return out;
}

bool parse_hidden_sizes(const std::string& text, HiddenSizes& out, std::string& why) {
  HiddenSizes v{};
  size_t count = 0, pos = 0;
  while (true) {
    const size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    long long x = 0;
    size_t used = 0;
    try {
      x = std::stoll(item, &used);
    } catch (...) {
      used = 0;
    }
    if (item.empty() || used != item.size() || x < 0 || x > 65536) {
      why = "expected up to " + std::to_string(kMaxHiddenLayers) + " integers in [0, 65536] separated by commas "
            "(e.g. 40,40), got \"" + text + "\"";
      return false;
    }
    if (count == v.size()) {
      why = "at most " + std::to_string(kMaxHiddenLayers) + " hidden sizes, got more in \"" + text + "\"";
      return false;
    }
    v[count++] = static_cast<int32_t>(x);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  out = v;
  return true;
}

std::vector<int64_t> example_shape(const Config& cfg) {
  if (cfg.backbone == Backbone::Mlp) return {cfg.input_features};
  return {cfg.image_channels, cfg.image_height, cfg.image_width};
}

int64_t example_numel(const Config& cfg) {
  int64_t n = 1;
  for (int64_t d : example_shape(cfg)) n *= d;
  return n;
}

int64_t spatial_after_stages(const Config& cfg, int64_t size) {
  for (int32_t s = 0; s < cfg.num_stages; ++s) size = cfg.max_pool ? size / 2 : (size + 1) / 2;
  return size;
}

void validate(const Config& c) {
  visit_fields(c, RangeCheck{});
  require(c.meta_lr_min <= c.meta_lr, "meta_lr_min (" + number(c.meta_lr_min) +
                                          ") must not exceed meta_lr (" + number(c.meta_lr) + ")");
  for (int32_t i = 0; i < kMaxHiddenLayers; ++i) {
    const int32_t v = c.hidden_sizes[static_cast<size_t>(i)];
    if (i < c.hidden_layers)
      require(v >= 1 && v <= 65536, "hidden_sizes[" + std::to_string(i) + "] must be in [1, 65536] with hidden_layers = " +
                                        std::to_string(c.hidden_layers) + ", got " + std::to_string(v));
    else
      require(v == 0, "hidden_sizes[" + std::to_string(i) + "] must be 0 with hidden_layers = " +
                          std::to_string(c.hidden_layers) + " (only the first hidden_layers entries are used), got " +
                          std::to_string(v));
  }
  int64_t feat = 0;
  if (c.backbone == Backbone::Conv) {
    if (c.max_pool) {
      require(spatial_after_stages(c, c.image_height) >= 1 && spatial_after_stages(c, c.image_width) >= 1,
              "a " + std::to_string(c.image_height) + "x" + std::to_string(c.image_width) +
                  " image is too small for " + std::to_string(c.num_stages) +
                  " max-pool stages (each halves it; need at least " +
                  std::to_string(1LL << c.num_stages) + " pixels per side)");
    }
    feat = static_cast<int64_t>(c.num_filters) *
           (c.max_pool ? spatial_after_stages(c, c.image_height) * spatial_after_stages(c, c.image_width) : 1);
    require(c.adapt_last_layers <= c.num_stages + 1,
            "adapt_last_layers (" + std::to_string(c.adapt_last_layers) + ") exceeds the model's " +
                std::to_string(c.num_stages + 1) + " layers (" + std::to_string(c.num_stages) +
                " conv stages and the head); 0 adapts every layer");
  } else {
    feat = c.hidden_sizes[static_cast<size_t>(c.hidden_layers - 1)];
    require(c.adapt_last_layers <= c.hidden_layers + 1,
            "adapt_last_layers (" + std::to_string(c.adapt_last_layers) + ") exceeds the model's " +
                std::to_string(c.hidden_layers + 1) + " layers (" + std::to_string(c.hidden_layers) +
                " hidden layers and the head); 0 adapts every layer");
  }
  require(feat * head_outputs(c) <= (int64_t{1} << 31), "the linear head would be too large");
  check_config_budget(c);
}

}  // namespace mamlpp
