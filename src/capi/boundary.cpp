#include "capi/boundary.hpp"

#include "capi/config_convert.hpp"

#include <c10/util/Exception.h>

#include <cctype>
#include <cstring>
#include <new>

#include "common/error.hpp"

namespace mamlpp::capi {

namespace {
thread_local std::string t_last_error;

maml_status status_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument: return MAML_E_INVALID_ARGUMENT;
    case ErrorKind::Io: return MAML_E_IO;
    case ErrorKind::Format: return MAML_E_FORMAT;
    case ErrorKind::Device: return MAML_E_DEVICE;
    case ErrorKind::OutOfMemory: return MAML_E_OUT_OF_MEMORY;
    case ErrorKind::Numerical: return MAML_E_NUMERICAL;
    case ErrorKind::Unsupported: return MAML_E_UNSUPPORTED;
    case ErrorKind::Internal: return MAML_E_INTERNAL;
    case ErrorKind::Distributed: return MAML_E_DISTRIBUTED;
  }
  return MAML_E_INTERNAL;
}

// LibTorch's words for a failed allocation: the CPU allocator ("DefaultCPUAllocator: can't
// allocate memory: you tried to allocate N bytes. Error code 12 (Cannot allocate memory)"),
// CUDA's caching allocator ("CUDA out of memory. Tried to allocate ..."), cuBLAS and cuDNN
// (..._STATUS_ALLOC_FAILED).
bool mentions_oom(const std::string& what) {
  for (const char* words : {"out of memory", "not enough memory", "can't allocate memory",
                            "Cannot allocate memory", "ALLOC_FAILED"})
    if (what.find(words) != std::string::npos) return true;
  return false;
}

// One plain line for an allocation LibTorch could not make, with its size when the message
// says it ("... allocate 3561308160 bytes ...", "Tried to allocate 20.00 MiB").
std::string oom_message(const std::string& what, bool gpu) {
  std::string out = gpu ? "out of GPU memory" : "out of memory";
  const std::string tried = "allocate ";
  for (size_t at = what.find(tried); at != std::string::npos; at = what.find(tried, at + 1)) {
    const size_t begin = at + tried.size();
    size_t end = begin;
    while (end < what.size() && (std::isdigit(static_cast<unsigned char>(what[end])) || what[end] == '.')) ++end;
    if (end == begin) continue;
    std::string amount = what.substr(begin, end - begin);
    for (const char* unit : {" bytes", " KiB", " MiB", " GiB"})
      if (what.compare(end, std::strlen(unit), unit) == 0) amount += unit;
    out += ": an allocation of " + amount + " failed";
    break;
  }
  return out + "; use fewer or smaller inputs per call, or a smaller model";
}

// LibTorch messages carry a C++ backtrace after the first line; callers want the first line.
std::string first_line(const std::string& s) {
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}
}  // namespace

void set_last_error(const std::string& message) { t_last_error = message; }

MetaLearner& model_of(maml_model* model) {
  require_non_null(model, "model");
  if (!model->impl) throw invalid_argument("model handle is empty");
  return *model->impl;
}

const MetaLearner& model_of(const maml_model* model) { return model_of(const_cast<maml_model*>(model)); }

HostTasks host_tasks(const maml_tasks* batch) {
  const maml_tasks t = read_sized_struct(batch, maml_tasks{}, kTasksV1Size, "batch", "maml_tasks");
  HostTasks h;
  h.num_tasks = t.num_tasks;
  h.support_size = t.support_size;
  h.query_size = t.query_size;
  h.support_x = t.support_x;
  h.support_y = t.support_y;
  h.query_x = t.query_x;
  h.query_y = t.query_y;
  h.support_t = t.support_t;
  h.query_t = t.query_t;
  return h;
}
void clear_last_error() { t_last_error.clear(); }

maml_status status_from_current_exception() {
  try {
    throw;
  } catch (const Error& e) {
    set_last_error(e.what());
    return status_of(e.kind());
  } catch (const std::bad_alloc&) {
    set_last_error("out of memory: an allocation failed; use fewer or smaller inputs per call, or a "
                   "smaller model");
    return MAML_E_OUT_OF_MEMORY;
  } catch (const c10::Error& e) {
    const std::string msg = first_line(e.what_without_backtrace());
    const bool gpu_oom = dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr;
    if (gpu_oom || mentions_oom(msg)) {
      set_last_error(oom_message(msg, gpu_oom || msg.find("CUDA") != std::string::npos));
      return MAML_E_OUT_OF_MEMORY;
    }
    set_last_error("internal error in LibTorch: " + msg);
    return MAML_E_INTERNAL;
  } catch (const std::exception& e) {
    set_last_error(std::string("internal error: ") + e.what());
    return MAML_E_INTERNAL;
  } catch (...) {
    set_last_error("internal error: unknown exception");
    return MAML_E_INTERNAL;
  }
}

}  // namespace mamlpp::capi

extern "C" {

const char* maml_last_error(void) { return mamlpp::capi::t_last_error.c_str(); }

const char* maml_status_string(maml_status status) {
  switch (status) {
    case MAML_OK: return "MAML_OK";
    case MAML_E_INVALID_ARGUMENT: return "MAML_E_INVALID_ARGUMENT";
    case MAML_E_IO: return "MAML_E_IO";
    case MAML_E_FORMAT: return "MAML_E_FORMAT";
    case MAML_E_DEVICE: return "MAML_E_DEVICE";
    case MAML_E_OUT_OF_MEMORY: return "MAML_E_OUT_OF_MEMORY";
    case MAML_E_NUMERICAL: return "MAML_E_NUMERICAL";
    case MAML_E_UNSUPPORTED: return "MAML_E_UNSUPPORTED";
    case MAML_E_INTERNAL: return "MAML_E_INTERNAL";
    case MAML_E_DISTRIBUTED: return "MAML_E_DISTRIBUTED";
    default: return "unknown status";
  }
}

const char* maml_version_string(void) { return MAMLPP_VERSION_STRING; }
int32_t maml_version_number(void) { return MAMLPP_VERSION_NUMBER; }
int32_t maml_abi_version(void) { return MAMLPP_ABI_VERSION; }

}  // extern "C"
