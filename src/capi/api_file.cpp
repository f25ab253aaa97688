// Meta-initialisation files: maml_save*, maml_load*, maml_buffer_free, and the user metadata
// the files carry (maml_*_metadata). The format lives in src/io; this file only converts between
// the model's tensors and the file's byte arrays.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "capi/boundary.hpp"
#include "core/device.hpp"
#include "common/error.hpp"
#include "io/file.hpp"
#include "io/model_file.hpp"

using namespace mamlpp;
using namespace mamlpp::capi;

namespace {

bool inference_only(int32_t flags) {
  if ((flags & ~MAML_SAVE_INFERENCE_ONLY) != 0)
    throw invalid_argument("unknown save flags " + std::to_string(flags));
  return (flags & MAML_SAVE_INFERENCE_ONLY) != 0;
}

std::vector<uint8_t> encode(const maml_model* model, bool with_optimizer) {
  const MetaLearner& m = model_of(model);
  io::ModelFile file;
  file.user_metadata = model->metadata;
  file.config = m.config();
  file.step = m.step();
  file.has_optimizer = with_optimizer;
  const io::TensorDtype dtype = io::file_dtype(m.config());
  for (const NamedTensor& t : m.state(with_optimizer)) {
    io::NamedArray a;
    a.name = t.name;
    a.dtype = dtype;
    a.shape = t.tensor.sizes().vec();
    const at::Tensor c = t.tensor.to(scalar_type(m.config().dtype)).contiguous();
    const auto* p = static_cast<const uint8_t*>(c.data_ptr());
    a.bytes.assign(p, p + c.nbytes());  // little-endian hosts only (x86-64, aarch64)
    file.tensors.push_back(std::move(a));
  }
  return io::encode_model_file(file);
}

std::unique_ptr<maml_model> decode(const uint8_t* data, size_t size, int32_t device_type,
                                   int32_t device_index) {
  if (device_type < MAML_DEVICE_AUTO || device_type > MAML_DEVICE_CUDA)
    throw invalid_argument("unknown device_type " + std::to_string(device_type));
  if (device_index < 0) throw invalid_argument("device_index must be >= 0");
  // Resolve the device first: a missing GPU is a device error, whatever the file holds.
  const at::Device device = resolve_device(static_cast<DeviceType>(device_type), device_index);
  io::ModelFile file = io::decode_model_file(data, size);
  Config cfg = file.config;
  cfg.device_type = static_cast<DeviceType>(device_type);
  cfg.device_index = device_index;
  const at::ScalarType dtype = scalar_type(cfg.dtype);
  std::vector<NamedTensor> tensors;
  tensors.reserve(file.tensors.size());
  for (io::NamedArray& a : file.tensors) {
    at::Tensor t = at::empty(a.shape, at::TensorOptions().dtype(dtype));
    if (static_cast<size_t>(t.nbytes()) != a.bytes.size())
      throw format_error("tensor '" + a.name + "' has the wrong byte count");
    std::memcpy(t.data_ptr(), a.bytes.data(), a.bytes.size());
    std::vector<uint8_t>().swap(a.bytes);  // release as we go: peak memory stays near one copy
    tensors.push_back({a.name, t});
  }
  auto model = std::make_unique<maml_model>();
  model->impl = MetaLearner::from_state(cfg, file.step, file.has_optimizer, tensors, device);
  model->metadata = std::move(file.user_metadata);
  return model;
}

}  // namespace

extern "C" {

maml_status maml_save(const maml_model* model, const char* path) { return maml_save_ex(model, path, 0); }

maml_status maml_save_ex(const maml_model* model, const char* path, int32_t flags) {
  return guarded([&] {
    model_of(model);
    require_non_null(path, "path");
    if (*path == '\0') throw invalid_argument("path must not be empty");
    const std::vector<uint8_t> bytes = encode(model, !inference_only(flags));
    io::atomic_write_file(path, bytes);
  });
}

maml_status maml_save_buffer(const maml_model* model, void** data, size_t* size) {
  return maml_save_buffer_ex(model, 0, data, size);
}

maml_status maml_save_buffer_ex(const maml_model* model, int32_t flags, void** data, size_t* size) {
  return guarded([&] {
    require_non_null(data, "data");
    require_non_null(size, "size");
    *data = nullptr;
    *size = 0;
    model_of(model);
    const std::vector<uint8_t> bytes = encode(model, !inference_only(flags));
    void* out = std::malloc(bytes.size());
    if (out == nullptr) throw std::bad_alloc();
    std::memcpy(out, bytes.data(), bytes.size());
    *data = out;
    *size = bytes.size();
  });
}

maml_status maml_load(const char* path, int32_t device_type, int32_t device_index, maml_model** out) {
  return guarded([&] {
    require_non_null(out, "out");
    *out = nullptr;
    require_non_null(path, "path");
    try {
      // A FIFO or a device is refused before a byte is read; a file whose header length cannot
      // fit is refused after 8 bytes.
      const std::vector<uint8_t> bytes = io::read_model_file(path);
      *out = decode(bytes.data(), bytes.size(), device_type, device_index).release();
    } catch (const Error& e) {
      // Name the file: a host program loading several wants to know which one is bad.
      const std::string what = e.what(), prefix = std::string(path) + ": ";
      if (e.kind() == ErrorKind::Format && what.compare(0, prefix.size(), prefix) != 0)
        throw format_error(prefix + what);
      throw;
    }
  });
}

maml_status maml_load_buffer(const void* data, size_t size, int32_t device_type, int32_t device_index,
                             maml_model** out) {
  return guarded([&] {
    require_non_null(out, "out");
    *out = nullptr;
    require_non_null(data, "data");
    *out = decode(static_cast<const uint8_t*>(data), size, device_type, device_index).release();
  });
}

void maml_buffer_free(void* data) { std::free(data); }

maml_status maml_set_metadata(maml_model* model, const char* key, const char* value) {
  return guarded([&] {
    model_of(model);
    require_non_null(key, "key");
    const std::string k = key;
    io::check_metadata_key(k);
    if (value == nullptr) {
      model->metadata.erase(k);
      return;
    }
    // Checked on a copy, then swapped in: a refused entry leaves the metadata as it was.
    io::UserMetadata next = model->metadata;
    next[k] = value;
    io::check_user_metadata(next);
    model->metadata.swap(next);
  });
}

maml_status maml_get_metadata(const maml_model* model, const char* key, char** value) {
  return guarded([&] {
    require_non_null(value, "value");
    *value = nullptr;
    model_of(model);
    require_non_null(key, "key");
    io::check_metadata_key(key);
    const auto it = model->metadata.find(key);
    if (it == model->metadata.end()) return;
    char* out = static_cast<char*>(std::malloc(it->second.size() + 1));
    if (out == nullptr) throw std::bad_alloc();
    std::memcpy(out, it->second.c_str(), it->second.size() + 1);
    *value = out;
  });
}

maml_status maml_list_metadata(const maml_model* model, char** keys, size_t* size) {
  return guarded([&] {
    require_non_null(keys, "keys");
    require_non_null(size, "size");
    *keys = nullptr;
    *size = 0;
    model_of(model);
    size_t total = 0;
    for (const auto& entry : model->metadata) total += entry.first.size() + 1;
    if (total == 0) return;
    char* out = static_cast<char*>(std::malloc(total));
    if (out == nullptr) throw std::bad_alloc();
    char* p = out;
    for (const auto& entry : model->metadata) {  // std::map: sorted by byte value
      std::memcpy(p, entry.first.c_str(), entry.first.size() + 1);
      p += entry.first.size() + 1;
    }
    *keys = out;
    *size = total;
  });
}

}  // extern "C"
