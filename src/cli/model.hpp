// Owning C++ wrappers over the C ABI's handles, with every status checked (errors.hpp). The CLI
// is a client of libmamlpp's public header only; nothing here includes LibTorch.
#pragma once

#include <mamlpp/mamlpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mamlpp::cli {

struct ModelDeleter {
  void operator()(maml_model* m) const { maml_free(m); }
};
struct LearnerDeleter {
  void operator()(maml_learner* l) const { maml_learner_free(l); }
};
using LearnerPtr = std::unique_ptr<maml_learner, LearnerDeleter>;

// A libmamlpp model. Loading maps I/O and format failures to kExitModel with the path named.
class Model {
 public:
  Model() = default;
  static Model create(const maml_config& cfg);
  static Model load(const std::string& path, int32_t device_type, int32_t device_index = 0);
  // The same from a file's bytes already read (maml_load_buffer); `path` names it in errors.
  static Model load_buffer(const std::vector<uint8_t>& bytes, const std::string& path, int32_t device_type,
                           int32_t device_index = 0);

  maml_model* get() const { return handle_.get(); }
  explicit operator bool() const { return handle_ != nullptr; }

  maml_config config() const;
  int64_t step() const;
  std::string device_name() const;  // "cpu" or "cuda:0"
  int64_t num_parameters() const;

  // User metadata (maml_set_metadata / maml_get_metadata / maml_list_metadata): travels with
  // every file the model is saved to. set: a refused entry is kExitRuntime (a CLI bug).
  void set_metadata(const std::string& key, const std::string& value) const;
  std::optional<std::string> metadata(const std::string& key) const;
  std::vector<std::string> metadata_keys() const;

  // maml_save (atomic). Errors: kExitModel naming the path.
  void save(const std::string& path) const;

  // The same model adapting with `steps` inner steps instead of its eval_inner_steps (0: none, the
  // meta-model's own predictions; steps past inner_steps reuse the last rates, as evaluation
  // does). Goes through the file format (src/io): the config's eval_inner_steps is rewritten, and
  // for 0 steps one step at zero rate is taken. Not for training (the optimizer state is dropped).
  Model with_adaptation_steps(int32_t steps, int32_t device_type) const;
  // One task's learner. support_x holds n * C*H*W floats (n * input_features for an MLP).
  LearnerPtr adapt(const float* support_x, const int32_t* support_y, int32_t n) const;
  // One regression task's learner: support_t holds n * n_outputs targets.
  LearnerPtr adapt_regression(const float* support_x, const float* support_t, int32_t n) const;
  // One learner per task of the batch (maml_adapt_tasks).
  std::vector<LearnerPtr> adapt_tasks(const maml_tasks& batch) const;

  // The LSLR table, row-major [tensor][step], with the tensor names.
  void inner_lrs(std::vector<std::string>& names, int32_t& steps, std::vector<float>& rates) const;

 private:
  std::unique_ptr<maml_model, ModelDeleter> handle_;
};

// logits (n * n_way) for n examples, or a regression learner's values (n * n_outputs).
void predict(const maml_learner* learner, const float* x, int32_t n, int32_t n_way,
             std::vector<float>& logits);


}  // namespace mamlpp::cli
