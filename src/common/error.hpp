// Error types shared by the core, io and data layers. The C ABI maps each kind to a maml_status;
// nothing below src/capi knows those numbers. Torch-free on purpose: included everywhere.
#pragma once

#include <stdexcept>
#include <string>

namespace mamlpp {

enum class ErrorKind {
  InvalidArgument,
  Io,
  Format,
  Device,
  OutOfMemory,
  Numerical,
  Unsupported,
  Internal,
  Distributed,  // a collective of a process group failed: a peer left, timed out or disagreed
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

inline Error invalid_argument(const std::string& m) { return Error(ErrorKind::InvalidArgument, m); }
inline Error io_error(const std::string& m) { return Error(ErrorKind::Io, m); }
inline Error format_error(const std::string& m) { return Error(ErrorKind::Format, m); }
inline Error device_error(const std::string& m) { return Error(ErrorKind::Device, m); }
inline Error numerical_error(const std::string& m) { return Error(ErrorKind::Numerical, m); }
inline Error unsupported(const std::string& m) { return Error(ErrorKind::Unsupported, m); }
inline Error distributed_error(const std::string& m) { return Error(ErrorKind::Distributed, m); }

}  // namespace mamlpp
