// The C ABI boundary: handle types, the thread-local last error, and the one function every
// exported call goes through, which turns any C++ exception into a status and a message.
#pragma once

#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "core/learner.hpp"
#include "core/meta_learner.hpp"
#include "io/user_metadata.hpp"
#include "mamlpp/mamlpp.h"

struct maml_model {
  std::unique_ptr<mamlpp::MetaLearner> impl;
  // maml_set_metadata's entries, within io/user_metadata.hpp's rules; saved and loaded with the
  // model (the file's user metadata).
  mamlpp::io::UserMetadata metadata;
};

struct maml_group {
  std::shared_ptr<mamlpp::Group> impl;
};

struct maml_learner {
  std::shared_ptr<const mamlpp::Learner> impl;
};

namespace mamlpp::capi {

void set_last_error(const std::string& message);
void clear_last_error();

// Maps the exception in flight to a status and records its message (call inside catch).
maml_status status_from_current_exception();

// Runs body() and returns MAML_OK, or the status of the exception it threw. Nothing escapes.
template <typename Body>
maml_status guarded(Body&& body) noexcept {
  try {
    clear_last_error();
    body();
    return MAML_OK;
  } catch (...) {
    return status_from_current_exception();
  }
}

// Throws Error(InvalidArgument) naming the argument if p is NULL.
template <typename T>
void require_non_null(const T* p, const char* name) {
  if (p == nullptr) throw invalid_argument(std::string(name) + " must not be NULL");
}

// Reads a caller's struct whose first field is its size: copies the bytes the caller has over
// the library's defaults. A newer caller's larger struct is accepted if the fields this library
// does not know are zero (they would otherwise be silently ignored). `arg` is the parameter's
// name in the header (errors name it), `type` the struct's.
template <typename T>
T read_sized_struct(const T* in, const T& defaults, size_t minimum_size, const char* arg,
                    const char* type) {
  require_non_null(in, arg);
  const uint32_t size = in->struct_size;
  if (size < minimum_size)
    throw invalid_argument(std::string(arg) + "->struct_size is " + std::to_string(size) +
                           ", expected at least " + std::to_string(minimum_size) +
                           " (set it to sizeof(" + type + "))");
  T out = defaults;
  const auto* bytes = reinterpret_cast<const unsigned char*>(in);
  if (size > sizeof(T)) {
    for (size_t i = sizeof(T); i < size; ++i) {
      if (bytes[i] != 0)
        throw unsupported(std::string(arg) + " (" + type + ") sets fields this libmamlpp "
                          MAMLPP_VERSION_STRING " does not know; upgrade the library");
    }
  }
  std::memcpy(&out, in, size < sizeof(T) ? size : sizeof(T));
  out.struct_size = sizeof(T);
  return out;
}

// The model behind a handle; Error(InvalidArgument) for NULL or an empty handle.
const MetaLearner& model_of(const maml_model* model);
MetaLearner& model_of(maml_model* model);

// A caller's maml_tasks as the core's HostTasks (struct size checked, "batch" named in errors).
HostTasks host_tasks(const maml_tasks* batch);

}  // namespace mamlpp::capi
