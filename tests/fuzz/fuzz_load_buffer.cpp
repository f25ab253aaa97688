// libFuzzer entry through the whole C ABI loader: maml_load_buffer on any bytes must return
// MAML_OK with a model (which must then adapt, predict and re-save), or MAML_E_FORMAT with a
// message and a NULL handle. Anything else (crash, sanitizer report, another status) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "mamlpp/mamlpp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  maml_model* model = reinterpret_cast<maml_model*>(0x1);
  const maml_status s = maml_load_buffer(data, size, MAML_DEVICE_CPU, 0, &model);
  if (s != MAML_OK) {
    if (s != MAML_E_FORMAT || model != nullptr || maml_last_error()[0] == '\0') std::abort();
    return 0;
  }
  if (model == nullptr) std::abort();
  // A model that loads must be usable: adapt to one example per class and predict it back.
  maml_config cfg;
  cfg.struct_size = sizeof cfg;
  if (maml_get_config(model, &cfg) != MAML_OK) std::abort();
  const size_t pixels = static_cast<size_t>(cfg.image_channels) * cfg.image_height * cfg.image_width;
  if (pixels * cfg.n_way <= (1u << 20)) {
    std::vector<float> x(pixels * cfg.n_way, 0.5f);
    std::vector<int32_t> y(cfg.n_way);
    for (int32_t i = 0; i < cfg.n_way; ++i) y[i] = i;
    maml_learner* learner = nullptr;
    const maml_status a = maml_adapt(model, x.data(), y.data(), cfg.n_way, &learner);
    if (a == MAML_OK) {
      std::vector<int32_t> labels(cfg.n_way);
      const maml_status p = maml_predict(learner, x.data(), cfg.n_way, nullptr, labels.data());
      if (p != MAML_OK && p != MAML_E_NUMERICAL) std::abort();
    } else if (a != MAML_E_NUMERICAL) {
      std::abort();  // finite weights and inputs: only divergence may fail adaptation
    }
    maml_learner_free(learner);
  }
  void* bytes = nullptr;
  size_t n = 0;
  if (maml_save_buffer(model, &bytes, &n) != MAML_OK) std::abort();
  maml_buffer_free(bytes);
  maml_free(model);
  return 0;
}
