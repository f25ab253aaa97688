#include "cli/model.hpp"

#include <algorithm>

#include "io/model_file.hpp"

#include "cli/errors.hpp"

namespace mamlpp::cli {

Model Model::create(const maml_config& cfg) {
  maml_model* m = nullptr;
  const maml_status s = maml_create(&cfg, &m);
  if (s != MAML_OK) {
    // A config the library refuses is the user's config: exit 1 names the field.
    const int code = s == MAML_E_INVALID_ARGUMENT ? kExitUsage : exit_code_for(s);
    throw CliError(code, std::string("config: ") + maml_last_error());
  }
  Model model;
  model.handle_.reset(m);
  return model;
}

namespace {

// A failed maml_load or maml_load_buffer of the file at `path`: kExitModel for the file's fault.
[[noreturn]] void load_failed(maml_status s, const std::string& path) {
  std::string msg = maml_last_error();
  if (msg.find(path) == std::string::npos) msg = path + ": " + msg;
  if (s == MAML_E_IO || s == MAML_E_FORMAT || s == MAML_E_INVALID_ARGUMENT)
    throw model_error(msg + (s == MAML_E_FORMAT
                                 ? " (not a valid libmamlpp model file; use a .maml file "
                                   "written by 'mamlpp train' or maml_save)"
                                 : ""));
  throw CliError(exit_code_for(s), msg);
}

}  // namespace

Model Model::load(const std::string& path, int32_t device_type, int32_t device_index) {
  maml_model* m = nullptr;
  const maml_status s = maml_load(path.c_str(), device_type, device_index, &m);
  if (s != MAML_OK) load_failed(s, path);
  Model model;
  model.handle_.reset(m);
  return model;
}

Model Model::load_buffer(const std::vector<uint8_t>& bytes, const std::string& path, int32_t device_type,
                         int32_t device_index) {
  maml_model* m = nullptr;
  const maml_status s = maml_load_buffer(bytes.data(), bytes.size(), device_type, device_index, &m);
  if (s != MAML_OK) load_failed(s, path);
  Model model;
  model.handle_.reset(m);
  return model;
}

Model Model::with_adaptation_steps(int32_t steps, int32_t device_type) const {
  if (steps < 0 || steps > 1000) throw usage_error("--inner-steps must be in [0, 1000], got " + std::to_string(steps));
  void* data = nullptr;
  size_t size = 0;
  check(maml_save_buffer_ex(get(), MAML_SAVE_INFERENCE_ONLY, &data, &size), "saving the model to memory");
  const std::unique_ptr<void, decltype(&maml_buffer_free)> owned(data, &maml_buffer_free);
  io::ModelFile file = with_model_errors("the model", [&] {
    return io::decode_model_file(static_cast<const uint8_t*>(data), size);
  });
  file.config.eval_inner_steps = std::max(steps, 1);
  if (steps == 0)  // one step at rate 0: the learner keeps the meta-weights
    for (io::NamedArray& t : file.tensors)
      if (t.name.rfind("lslr.", 0) == 0) std::fill(t.bytes.begin(), t.bytes.end(), uint8_t{0});
  return load_buffer(io::encode_model_file(file), "the model with " + std::to_string(steps) + " adaptation steps",
                     device_type);
}

maml_config Model::config() const {
  maml_config c;
  maml_config_init(&c);
  check(maml_get_config(get(), &c), "maml_get_config");
  return c;
}

int64_t Model::step() const {
  int64_t s = 0;
  check(maml_get_step(get(), &s), "maml_get_step");
  return s;
}

std::string Model::device_name() const {
  int32_t type = 0, index = 0;
  check(maml_get_device(get(), &type, &index), "maml_get_device");
  return type == MAML_DEVICE_CUDA ? "cuda:" + std::to_string(index) : "cpu";
}

int64_t Model::num_parameters() const {
  int64_t n = 0;
  check(maml_num_parameters(get(), &n), "maml_num_parameters");
  return n;
}

void Model::set_metadata(const std::string& key, const std::string& value) const {
  check(maml_set_metadata(get(), key.c_str(), value.c_str()), "maml_set_metadata");
}

std::optional<std::string> Model::metadata(const std::string& key) const {
  char* v = nullptr;
  check(maml_get_metadata(get(), key.c_str(), &v), "maml_get_metadata");
  if (v == nullptr) return std::nullopt;
  std::string out(v);
  maml_buffer_free(v);
  return out;
}

std::vector<std::string> Model::metadata_keys() const {
  char* keys = nullptr;
  size_t size = 0;
  check(maml_list_metadata(get(), &keys, &size), "maml_list_metadata");
  std::vector<std::string> out;
  for (size_t i = 0; i < size;) {
    out.emplace_back(keys + i);
    i += out.back().size() + 1;
  }
  maml_buffer_free(keys);
  return out;
}

void Model::save(const std::string& path) const {
  const maml_status s = maml_save(get(), path.c_str());
  if (s != MAML_OK) {
    std::string msg = maml_last_error();
    if (msg.find(path) == std::string::npos) msg = path + ": " + msg;
    throw CliError(s == MAML_E_IO ? kExitModel : exit_code_for(s), "cannot save the model: " + msg);
  }
}

LearnerPtr Model::adapt(const float* support_x, const int32_t* support_y, int32_t n) const {
  maml_learner* l = nullptr;
  check(maml_adapt(get(), support_x, support_y, n, &l), "adaptation (maml_adapt)");
  return LearnerPtr(l);
}

std::vector<LearnerPtr> Model::adapt_tasks(const maml_tasks& batch) const {
  std::vector<maml_learner*> raw(static_cast<size_t>(batch.num_tasks), nullptr);
  check(maml_adapt_tasks(get(), &batch, raw.data()), "adaptation (maml_adapt_tasks)");
  std::vector<LearnerPtr> out;
  out.reserve(raw.size());
  for (maml_learner* l : raw) out.emplace_back(l);
  return out;
}

void Model::inner_lrs(std::vector<std::string>& names, int32_t& steps,
                      std::vector<float>& rates) const {
  int32_t tensors = 0;
  check(maml_inner_lr_shape(get(), &tensors, &steps), "maml_inner_lr_shape");
  rates.assign(static_cast<size_t>(tensors) * static_cast<size_t>(steps), 0.0f);
  check(maml_get_inner_lrs(get(), rates.data(), static_cast<int64_t>(rates.size())),
        "maml_get_inner_lrs");
  names.clear();
  for (int32_t i = 0; i < tensors; ++i) {
    const char* name = nullptr;
    check(maml_inner_lr_name(get(), i, &name), "maml_inner_lr_name");
    names.emplace_back(name ? name : "?");
  }
}

LearnerPtr Model::adapt_regression(const float* support_x, const float* support_t, int32_t n) const {
  maml_learner* l = nullptr;
  check(maml_adapt_regression(get(), support_x, support_t, n, &l), "adaptation (maml_adapt_regression)");
  return LearnerPtr(l);
}

void predict(const maml_learner* learner, const float* x, int32_t n, int32_t n_way,
             std::vector<float>& logits) {
  logits.resize(static_cast<size_t>(n) * static_cast<size_t>(n_way));
  check(maml_predict(learner, x, n, logits.data(), nullptr), "prediction (maml_predict)");
}


}  // namespace mamlpp::cli
