// libFuzzer entry: any bytes given to decode_model_file must either decode or throw a Format
// error; a file that decodes must re-encode to a file that decodes to the same bytes again.
// Anything else (crash, sanitizer report, other exception, trap) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/error.hpp"
#include "io/model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mamlpp;
  io::ModelFile model;
  try {
    model = io::decode_model_file(data, size);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Format) std::abort();
    return 0;
  }
  // Accepted: encoding must work (no exception may escape here) and be a fixed point.
  const auto again = io::encode_model_file(model);
  const auto back = io::decode_model_file(again.data(), again.size());
  if (io::encode_model_file(back) != again) std::abort();
  return 0;
}
