// mamlpp: meta-train, evaluate, adapt, predict, inspect and benchmark MAML++ models from the
// command line. Every subcommand lives in its own cmd_*.cpp; this file parses the command line,
// runs the chosen one and turns errors into one line on stderr and an exit code (errors.hpp).
#include <CLI/CLI.hpp>
#include <mamlpp/mamlpp.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/config_keys.hpp"
#include "cli/errors.hpp"

namespace {

// CLI11's message for a command-line mistake, made specific where we can: a mistyped command or
// option is named, with the closest real one (as config keys are).
std::string explain_parse_error(CLI::App& app, int argc, char** argv, const std::string& cli11_what) {
  using mamlpp::cli::closest_name;
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) commands.push_back(sub->get_name());
  CLI::App* active = nullptr;
  for (CLI::App* sub : app.get_subcommands()) active = sub;
  if (active == nullptr) {
    // The first word that is not an option should have been a command.
    for (int i = 1; i < argc; ++i) {
      const std::string word = argv[i];
      if (word.empty() || word[0] == '-') continue;
      std::string list;
      for (const std::string& c : commands) list += (list.empty() ? "" : ", ") + c;
      const std::string near = closest_name(word, commands);
      return "unknown command '" + word + "'" + (near.empty() ? "" : " (did you mean '" + near + "'?)") +
             "; the commands are " + list;
    }
    return cli11_what;
  }
  // Options the active command does not have.
  std::vector<std::string> names;
  for (const CLI::Option* o : active->get_options())
    for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
  std::string unknown;
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--") break;
    if (word.rfind("--", 0) != 0) continue;
    word = word.substr(0, word.find('='));
    if (std::find(names.begin(), names.end(), word) != names.end()) continue;
    if (!unknown.empty()) unknown += "; ";
    const std::string near = closest_name(word, names);
    unknown += "unknown option '" + word + "'" + (near.empty() ? "" : " (did you mean '" + near + "'?)");
  }
  if (!unknown.empty()) return unknown;
  return cli11_what;
}

}  // namespace

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
    const std::string what = explain_parse_error(app, argc, argv, e.what());
    std::fprintf(stderr, "%s: error: %s (see '%s --help')\n", where.c_str(), what.c_str(), where.c_str());
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
