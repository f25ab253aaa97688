// Errors for a person: one line that names the file (or key) and the fix, and an exit code that
// says which kind of thing went wrong. Every command throws CliError; main() prints it and exits.
#pragma once

#include <mamlpp/mamlpp.h>

#include <stdexcept>
#include <string>

namespace mamlpp::cli {

// Exit codes, documented in docs/CLI.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,        // bad command line, config file or config value
  kExitData = 2,         // a dataset, split or image that cannot be used
  kExitModel = 3,        // a model, checkpoint or state file that cannot be read or written
  kExitRuntime = 4,      // a failure while computing (non-finite loss, out of memory, device)
  kExitInterrupted = 130 // SIGINT/SIGTERM: stopped cleanly, the last checkpoint is intact
};

class CliError : public std::runtime_error {
 public:
  CliError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

inline CliError usage_error(const std::string& m) { return CliError(kExitUsage, m); }
inline CliError data_error(const std::string& m) { return CliError(kExitData, m); }
inline CliError model_error(const std::string& m) { return CliError(kExitModel, m); }
inline CliError runtime_failure(const std::string& m) { return CliError(kExitRuntime, m); }

// The exit code a failed libmamlpp call maps to: invalid arguments are the config's fault (1),
// I/O and format errors concern a model file (3), everything else is a runtime failure (4).
int exit_code_for(maml_status status);

// Throws CliError(exit_code_for(status), what + ": " + maml_last_error()) unless status is MAML_OK.
void check(maml_status status, const std::string& what);

// Runs `fn`, turning the data layer's exceptions (mamlpp::Error, std::exception) into
// CliError(kExitData) with `context` prepended when it is not empty. CliErrors pass through.
template <class F>
auto with_data_errors(const std::string& context, F&& fn) -> decltype(fn());

// Same, for the model-file layer (src/io): CliError(kExitModel).
template <class F>
auto with_model_errors(const std::string& context, F&& fn) -> decltype(fn());

std::string join_context(const std::string& context, const std::string& message);

template <class F>
auto with_data_errors(const std::string& context, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const CliError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw runtime_failure(join_context(context, "out of memory"));
  } catch (const std::exception& e) {
    throw data_error(join_context(context, e.what()));
  }
}

template <class F>
auto with_model_errors(const std::string& context, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const CliError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw runtime_failure(join_context(context, "out of memory"));
  } catch (const std::exception& e) {
    throw model_error(join_context(context, e.what()));
  }
}

}  // namespace mamlpp::cli
