#include "core/data_parallel.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <type_traits>

#include "common/error.hpp"
#include "common/version.hpp"

namespace mamlpp {

namespace {

// FNV-1a over a tensor's bytes: a checksum to tell two states apart, not a defence.
uint64_t checksum(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  const auto* p = static_cast<const unsigned char*>(c.data_ptr());
  const size_t n = static_cast<size_t>(c.numel()) * c.element_size();
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

template <class T>
std::string field_text(const FieldInfo& f, const T& v) {
  if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
  else if constexpr (std::is_same_v<T, HiddenSizes>) return hidden_sizes_text(v);
  else if constexpr (std::is_enum_v<T>) return choice_name(f, static_cast<int32_t>(v));
  else if constexpr (std::is_same_v<T, float>) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
    return buf;
  } else return std::to_string(v);
}

// "item=value" -> item, value.
void split_line(const std::string& line, std::string& item, std::string& value) {
  const size_t eq = line.find('=');
  item = line.substr(0, eq);
  value = eq == std::string::npos ? std::string() : line.substr(eq + 1);
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

std::string attach_fingerprint(const Config& cfg, at::Device device, at::ScalarType dtype, int64_t step,
                               const std::vector<NamedTensor>& state) {
  std::ostringstream out;
  out << "library version=" << kLibraryVersion << "\n";
  out << "device type=" << (device.is_cuda() ? "cuda" : "cpu") << "\n";
  out << "dtype=" << (dtype == at::kDouble ? "float64" : "float32") << "\n";
  visit_fields(cfg, [&](const FieldInfo& f, const auto& v) {
    for (const char* local : {"device_type", "device_index", "num_threads", "task_batching"})
      if (std::strcmp(f.name, local) == 0) return;
    out << "config field " << f.name << "=" << field_text(f, v) << "\n";
  });
  out << "step counter=" << step << "\n";
  for (const NamedTensor& t : state) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016" PRIx64, checksum(t.tensor));
    out << "tensor " << t.name << " (checksum)=" << buf << "\n";
  }
  return out.str();
}

void require_agreement(const std::vector<std::string>& fingerprints) {
  if (fingerprints.empty()) return;
  const std::vector<std::string> first = lines_of(fingerprints.front());
  for (size_t r = 1; r < fingerprints.size(); ++r) {
    const std::vector<std::string> mine = lines_of(fingerprints[r]);
    // A rank whose model has not trained (step 0: made with maml_create) takes rank 0's state
    // whatever it holds, so that a rank without the checkpoint can still join; a trained one must
    // hold rank 0's model exactly.
    const bool fresh = std::find(mine.begin(), mine.end(), "step counter=0") != mine.end();
    for (size_t i = 0; i < first.size() || i < mine.size(); ++i) {
      if (fresh && i < mine.size() && (mine[i].rfind("step counter=", 0) == 0 || mine[i].rfind("tensor ", 0) == 0))
        continue;
      const std::string a = i < first.size() ? first[i] : std::string("(nothing)=");
      const std::string b = i < mine.size() ? mine[i] : std::string("(nothing)=");
      if (a == b) continue;
      std::string item_a, value_a, item_b, value_b;
      split_line(a, item_a, value_a);
      split_line(b, item_b, value_b);
      std::string what = item_a == item_b
                             ? item_a + " is " + value_b + " on rank " + std::to_string(r) + " but " + value_a + " on rank 0"
                             : "rank " + std::to_string(r) + " has " + item_b + " where rank 0 has " + item_a;
      const bool tensor = item_a.rfind("tensor ", 0) == 0 || item_a == "step counter";
      throw distributed_error(
          "the ranks disagree, so none attached: " + what +
          (tensor ? " (every rank must load the same model file, or create the model with the same config and seed)"
                  : " (every rank must run the same libmamlpp with the same config)"));
    }
  }
}

StepPacket empty_packet(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& running_mean,
                        bool running) {
  StepPacket p;
  int64_t n = 0;
  for (const at::Tensor& t : params) {
    p.grad_offsets.push_back(n);
    n += t.numel();
  }
  p.bn_offset = n;
  if (running) {
    for (const at::Tensor& t : running_mean) n += 2 * t.numel();
    if (!running_mean.empty()) n += running_mean.front().size(0);
  }
  p.tail_offset = n;
  p.flat = at::zeros({n + 4}, params.front().options().requires_grad(false));
  return p;
}

void fill_packet(StepPacket& p, const std::vector<at::Tensor>& grads, const RunningStatSums* bn,
                 const at::Tensor& loss, const at::Tensor& accuracy, double tasks) {
  at::NoGradGuard no_grad;
  for (size_t k = 0; k < grads.size(); ++k)
    p.flat.narrow(0, p.grad_offsets[k], grads[k].numel()).copy_(grads[k].reshape({-1})).mul_(tasks);
  if (bn != nullptr && !bn->mean.empty()) {
    int64_t at = p.bn_offset;
    for (size_t s = 0; s < bn->mean.size(); ++s) {
      for (const at::Tensor& t : {bn->mean[s], bn->var[s]}) {
        p.flat.narrow(0, at, t.numel()).copy_(t.reshape({-1}));
        at += t.numel();
      }
    }
    p.flat.narrow(0, at, bn->count.numel()).copy_(bn->count);
  }
  at::Tensor tail = p.flat.narrow(0, p.tail_offset, 4);
  tail.select(0, 0).copy_(loss.detach().reshape({})).mul_(tasks);
  // Regression has no accuracy (NaN): 0 travels instead, so that the packet's finiteness check
  // stays about the loss and the gradients; the step reports NaN again (meta_learner.cpp).
  tail.select(0, 1).copy_(at::nan_to_num(accuracy.reshape({}), 0.0)).mul_(tasks);
  tail.select(0, 2).fill_(tasks);
  tail.select(0, 3).fill_(0);
}

std::vector<at::Tensor> packet_gradients(const StepPacket& p, const std::vector<at::Tensor>& params, double tasks) {
  std::vector<at::Tensor> out;
  for (size_t k = 0; k < params.size(); ++k)
    out.push_back(p.flat.narrow(0, p.grad_offsets[k], params[k].numel()).view(params[k].sizes()) / tasks);
  return out;
}

RunningStatSums packet_bn_sums(const StepPacket& p, const std::vector<at::Tensor>& running_mean) {
  RunningStatSums sums;
  int64_t at = p.bn_offset;
  for (const at::Tensor& shape : running_mean) {
    sums.mean.push_back(p.flat.narrow(0, at, shape.numel()).view(shape.sizes()));
    at += shape.numel();
    sums.var.push_back(p.flat.narrow(0, at, shape.numel()).view(shape.sizes()));
    at += shape.numel();
  }
  if (!running_mean.empty()) sums.count = p.flat.narrow(0, at, running_mean.front().size(0));
  return sums;
}

}  // namespace mamlpp
