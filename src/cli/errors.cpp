#include "cli/errors.hpp"

namespace mamlpp::cli {

int exit_code_for(maml_status status) {
  switch (status) {
    case MAML_OK: return kExitOk;
    case MAML_E_INVALID_ARGUMENT: return kExitUsage;
    case MAML_E_IO:
    case MAML_E_FORMAT: return kExitModel;
    default: return kExitRuntime;
  }
}

void check(maml_status status, const std::string& what) {
  if (status == MAML_OK) return;
  std::string message = maml_last_error();
  if (message.empty()) message = maml_status_string(status);
  throw CliError(exit_code_for(status), what.empty() ? message : what + ": " + message);
}

std::string join_context(const std::string& context, const std::string& message) {
  if (context.empty()) return message;
  // Data-layer messages usually begin with the path already; do not repeat it.
  if (message.compare(0, context.size(), context) == 0) return message;
  return context + ": " + message;
}

}  // namespace mamlpp::cli
