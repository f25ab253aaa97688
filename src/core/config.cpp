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

int64_t spatial_after_stages(const Config& cfg, int64_t size) {
  for (int32_t s = 0; s < cfg.num_stages; ++s) size = cfg.max_pool ? size / 2 : (size + 1) / 2;
  return size;
}

void validate(const Config& c) {
  visit_fields(c, RangeCheck{});
  require(c.meta_lr_min <= c.meta_lr, "meta_lr_min (" + number(c.meta_lr_min) +
                                          ") must not exceed meta_lr (" + number(c.meta_lr) + ")");
  if (c.max_pool) {
    require(spatial_after_stages(c, c.image_height) >= 1 && spatial_after_stages(c, c.image_width) >= 1,
            "a " + std::to_string(c.image_height) + "x" + std::to_string(c.image_width) +
                " image is too small for " + std::to_string(c.num_stages) +
                " max-pool stages (each halves it; need at least " +
                std::to_string(1LL << c.num_stages) + " pixels per side)");
  }
  const int64_t feat = static_cast<int64_t>(c.num_filters) *
                       (c.max_pool ? spatial_after_stages(c, c.image_height) *
                                         spatial_after_stages(c, c.image_width)
                                   : 1);
  require(c.adapt_last_layers <= c.num_stages + 1,
          "adapt_last_layers (" + std::to_string(c.adapt_last_layers) + ") exceeds the model's " +
              std::to_string(c.num_stages + 1) + " layers (" + std::to_string(c.num_stages) +
              " conv stages and the head); 0 adapts every layer");
  require(feat * c.n_way <= (int64_t{1} << 31), "the linear head would be too large");
  check_config_budget(c);
}

}  // namespace mamlpp
