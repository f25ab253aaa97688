#include "core/budget.hpp"

#include <cstdio>
#include <limits>

#include "common/error.hpp"

namespace mamlpp {

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// a * b and a + b, saturating at INT64_MAX (inputs are non-negative).
int64_t mul(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? kMax : r;
}
int64_t add(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? kMax : r;
}

int64_t dtype_bytes(const Config& cfg) { return cfg.dtype == DType::Float64 ? 8 : 4; }

std::string gib(int64_t bytes) {
  char buf[48];
  if (bytes == kMax) return "more than 8 EiB";
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / static_cast<double>(int64_t{1} << 30));
  return buf;
}

// Parameters of the body (convolutions or hidden layers, with their BN rows) and of the head,
// apart (to name the field to lower).
void parameter_parts(const Config& c, int64_t& body, int64_t& head) {
  const int64_t rows = c.batch_norm ? bn_rows(c) : 0;
  body = 0;
  int64_t features = 0;
  if (c.backbone == Backbone::Mlp) {
    int64_t in = c.input_features;
    for (int32_t l = 0; l < c.hidden_layers; ++l) {
      const int64_t h = c.hidden_sizes[static_cast<size_t>(l)];
      body = add(body, add(mul(h, in), h));     // weight [h, in] and bias [h]
      body = add(body, mul(2, mul(rows, h)));   // gamma, beta [rows, h]
      in = h;
    }
    features = in;
  } else {
    const int64_t f = c.num_filters;
    int64_t in = c.image_channels;
    for (int32_t s = 0; s < c.num_stages; ++s) {
      body = add(body, add(mul(mul(f, in), 9), f));  // weight [F, Cin, 3, 3] and bias [F]
      body = add(body, mul(2, mul(rows, f)));         // gamma, beta [rows, F]
      in = f;
    }
    features = c.max_pool ? mul(f, mul(spatial_after_stages(c, c.image_height), spatial_after_stages(c, c.image_width)))
                          : f;
  }
  head = add(mul(head_outputs(c), features), head_outputs(c));
}

}  // namespace

int64_t parameter_count(const Config& c) {
  int64_t convs = 0, head = 0;
  parameter_parts(c, convs, head);
  const int64_t lslr =
      c.learn_inner_lr ? mul(2 * int64_t{body_layers(c)} + 2 - first_inner_tensor(c), c.inner_steps) : 0;
  return add(add(convs, head), lslr);
}

int64_t activation_bytes_per_example(const Config& c) {
  if (c.backbone == Backbone::Mlp) {
    int64_t values = c.input_features;
    for (int32_t l = 0; l < c.hidden_layers; ++l)
      values = add(values, mul(3, c.hidden_sizes[static_cast<size_t>(l)]));  // linear, BN, activation
    return mul(add(values, head_outputs(c)), dtype_bytes(c));
  }
  int64_t h = c.image_height, w = c.image_width, values = 0;
  for (int32_t s = 0; s < c.num_stages; ++s) {
    if (!c.max_pool) {  // stride-2 convolutions halve the map first
      h = (h + 1) / 2;
      w = (w + 1) / 2;
    }
    const int64_t map = mul(c.num_filters, mul(h, w));
    values = add(values, mul(3, map));  // convolution, batch norm and activation outputs
    if (c.max_pool) {
      h /= 2;
      w /= 2;
      values = add(values, mul(c.num_filters, mul(h, w)));  // the pooled map
    }
  }
  values = add(values, head_outputs(c));
  return mul(values, dtype_bytes(c));
}

int64_t max_examples_per_call(const Config& cfg, int64_t passes) {
  const int64_t per = mul(activation_bytes_per_example(cfg), passes > 0 ? passes : 1);
  const int64_t n = per > 0 ? kMaxCallActivationBytes / per : kMax;
  return n > 0 ? n : 1;
}

void check_config_budget(const Config& c) {
  int64_t convs = 0, head = 0;
  parameter_parts(c, convs, head);
  const int64_t params = parameter_count(c);
  if (params > kMaxParameters) {
    const std::string lower =
        c.backbone == Backbone::Mlp
            ? "lower input_features, hidden_sizes or the head's outputs"
            : head > convs ? "lower n_way, num_filters or image_height/image_width, or raise num_stages (the linear "
                             "head holds most of them)"
                           : "lower num_filters or num_stages (the convolutions hold most of them)";
    throw invalid_argument("invalid config: the model would have " + std::to_string(params) +
                           " parameters, more than the limit of " + std::to_string(kMaxParameters) + "; " +
                           lower);
  }
  const int64_t one = mul(activation_bytes_per_example(c), int64_t{c.inner_steps} + 1);
  if (one > kMaxCallActivationBytes)
    throw invalid_argument("invalid config: one example would need about " + gib(one) +
                           " of activations over the inner steps, more than the limit of " +
                           gib(kMaxCallActivationBytes) +
                           "; lower image_height/image_width, num_filters or inner_steps, or turn max_pool on");
}

void check_call_activations(const Config& cfg, int64_t examples, int64_t passes, const std::string& what,
                            const std::string& advice) {
  const int64_t per = activation_bytes_per_example(cfg);
  const int64_t need = mul(mul(per, examples), passes);
  if (need <= kMaxCallActivationBytes) return;
  throw Error(ErrorKind::OutOfMemory,
              what + ": " + std::to_string(examples) + " examples would need about " + gib(need) +
                  " of activations (" + std::to_string(per / 1024) + " KiB per example and pass, " +
                  std::to_string(passes) + " passes), more than the limit of " + gib(kMaxCallActivationBytes) +
                  " per call; " + advice);
}

}  // namespace mamlpp
