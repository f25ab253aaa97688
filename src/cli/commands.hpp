// The subcommands. Each add_*_command registers its options on the root app and returns what to
// run when it is the one chosen on the command line.
#pragma once

#include <functional>
#include <vector>

namespace CLI {
class App;
}

namespace mamlpp::cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_train_command(CLI::App& root);
Command add_eval_command(CLI::App& root);
Command add_predict_command(CLI::App& root);
Command add_adapt_command(CLI::App& root);
Command add_inspect_command(CLI::App& root);
Command add_demo_command(CLI::App& root);
Command add_bench_command(CLI::App& root);

}  // namespace mamlpp::cli
