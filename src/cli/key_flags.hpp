// Command-line flags that set config keys (--n-way 5 is the key n_way), the generic
// --set KEY=VALUE, and --config FILE: gathered as one "command line" source and applied after the
// config file, so flags override the file.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/config_keys.hpp"

namespace CLI {
class App;
}

namespace mamlpp::cli {

struct KeyFlags {
  std::string config_path;
  nlohmann::json values = nlohmann::json::object();  // key -> raw value, from named flags
  std::vector<std::string> sets;                     // "key=value" from --set
};

// --KEY-WITH-DASHES for the key (or `flag` when given), described by the key's doc.
void add_key_flag(CLI::App* app, KeyFlags& flags, const std::string& key, const std::string& flag = "");
void add_key_flags(CLI::App* app, KeyFlags& flags, const std::vector<std::string>& keys);
void add_set_option(CLI::App* app, KeyFlags& flags);
void add_config_option(CLI::App* app, KeyFlags& flags);

// The flags as one JSON object (named flags and --set together; kExitUsage on "key" without
// "=value").
nlohmann::json flag_values(const KeyFlags& flags);

// defaults <- `base` (when not null) <- config file <- flags. Ignored reference keys are reported
// on stderr in one note. `allowed` restricts which keys may be given (see apply_keys).
nlohmann::json resolve_settings(const KeyFlags& flags, const nlohmann::json& base = nullptr,
                                const std::function<bool(const KeyDef&)>& allowed = {});

}  // namespace mamlpp::cli
