// mamlpp: meta-train, evaluate, adapt, predict, inspect and benchmark MAML++ models from the
// command line. Every subcommand lives in its own cmd_*.cpp; this file parses the command line,
// runs the chosen one and turns errors into one line on stderr and an exit code (errors.hpp).
#include <CLI/CLI.hpp>
#include <mamlpp/mamlpp.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/errors.hpp"

int main(int argc, char** argv) {
  using namespace mamlpp::cli;
  if (maml_abi_version() != MAMLPP_ABI_VERSION) {
    std::fprintf(stderr, "mamlpp: error: libmamlpp ABI %d found, this program needs ABI %d; reinstall mamlpp\n",
                 maml_abi_version(), MAMLPP_ABI_VERSION);
    return kExitUsage;
  }
  CLI::App app{"mamlpp " + std::string(maml_version_string()) +
               ": MAML++ meta-learning (train, evaluate, adapt, predict, inspect, benchmark)"};
  app.name("mamlpp");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mamlpp ") + maml_version_string());
  app.footer("Run 'mamlpp <command> --help' for a command's options. Documentation: docs/CLI.md");

  std::vector<Command> commands = {add_train_command(app), add_eval_command(app), add_predict_command(app),
                                   add_adapt_command(app), add_inspect_command(app), add_demo_command(app),
                                   add_bench_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where = "mamlpp";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    std::fprintf(stderr, "%s: error: %s (see '%s --help')\n", where.c_str(), e.what(), where.c_str());
    return kExitUsage;
  }

  for (const Command& c : commands) {
    if (!c.app->parsed()) continue;
    const std::string name = "mamlpp " + c.app->get_name();
    try {
      return c.run();
    } catch (const CliError& e) {
      std::fprintf(stderr, "%s: %s: %s\n", name.c_str(), e.code() == kExitInterrupted ? "stopped" : "error", e.what());
      return e.code();
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "%s: error: out of host memory\n", name.c_str());
      return kExitRuntime;
    } catch (const nlohmann::json::exception& e) {
      // Every JSON input is checked where it is read; should one slip through, say so plainly
      // (without nlohmann's exception id) rather than crash.
      std::string what = e.what();
      const size_t id_end = what.find("] ");
      if (what.rfind("[json.exception", 0) == 0 && id_end != std::string::npos) what = what.substr(id_end + 2);
      std::fprintf(stderr, "%s: error: unexpected JSON value: %s\n", name.c_str(), what.c_str());
      return kExitRuntime;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: error: %s\n", name.c_str(), e.what());
      return kExitRuntime;
    }
  }
  return kExitUsage;
}
