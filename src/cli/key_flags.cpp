#include "cli/key_flags.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/errors.hpp"
#include "cli/settings.hpp"

namespace mamlpp::cli {

using json = nlohmann::json;

namespace {

std::string type_name_of(const KeyDef* def, const std::string& key) {
  if (!def) return "VALUE";
  switch (def->kind) {
    case KeyKind::Int: return "N";
    case KeyKind::UInt64:
    case KeyKind::OptUInt64: return "SEED";
    case KeyKind::Float: return "X";
    case KeyKind::Bool:
    case KeyKind::OptBool: return "BOOL";
    case KeyKind::Choice: return "NAME";
    case KeyKind::FloatList: return "X,X,...";
    case KeyKind::IntList: return "N,N,...";
    case KeyKind::StringList: return "FILE,...";
    case KeyKind::String:
      return key == "out" || key.find("dir") != std::string::npos ? "DIR" : "FILE";
  }
  return "VALUE";
}

}  // namespace

void add_key_flag(CLI::App* app, KeyFlags& flags, const std::string& key, const std::string& flag) {
  const KeyDef* def = find_key(key);
  std::string name = flag;
  if (name.empty()) {
    name = "--" + key;
    for (char& c : name)
      if (c == '_') c = '-';
  }
  std::string help = def ? def->doc : key;
  if (def && def->kind == KeyKind::Choice) {
    help += " (";
    for (size_t i = 0; i < def->choices.size(); ++i) help += (i ? "|" : "") + def->choices[i];
    help += ")";
  }
  help += " [key " + key + "]";
  app->add_option_function<std::string>(
         name, [&flags, key](const std::string& v) { flags.values[key] = parse_cli_value(v, kind_of_any_key(key), key); },
         help)
      ->type_name(type_name_of(def, key));
}

void add_key_flags(CLI::App* app, KeyFlags& flags, const std::vector<std::string>& keys) {
  for (const std::string& k : keys) add_key_flag(app, flags, k);
}

void add_set_option(CLI::App* app, KeyFlags& flags) {
  app->add_option("--set", flags.sets,
                  "set any config key, e.g. --set inner_lr=0.05 --set bn_stats=running (repeatable)")
      ->type_name("KEY=VALUE");
}

void add_config_option(CLI::App* app, KeyFlags& flags) {
  app->add_option("--config,-c", flags.config_path,
                  "JSON config file: libmamlpp keys and/or MAML++ reference experiment-config keys")
      ->type_name("FILE");
}

json flag_values(const KeyFlags& flags) {
  json v = flags.values;
  for (const std::string& s : flags.sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw usage_error("--set " + s + ": expected KEY=VALUE, e.g. --set inner_lr=0.05");
    const std::string key = s.substr(0, eq);
    const json value = parse_cli_value(s.substr(eq + 1), kind_of_any_key(key), key);
    if (v.contains(key) && v[key] != value)
      throw usage_error("command line: key '" + key + "' is given twice with different values");
    v[key] = value;
  }
  return v;
}

json resolve_settings(const KeyFlags& flags, const json& base, const std::function<bool(const KeyDef&)>& allowed) {
  json settings = default_settings();
  if (!base.is_null()) {
    // A state.json's config: every key canonical; tolerate keys a newer version added.
    for (auto it = base.begin(); it != base.end(); ++it)
      if (find_key(it.key())) settings[it.key()] = it.value();
  }
  std::vector<std::string> ignored;
  if (!flags.config_path.empty()) apply_keys(read_json_file(flags.config_path), flags.config_path, settings, &ignored, allowed);
  apply_keys(flag_values(flags), "command line", settings, &ignored, allowed);
  if (!ignored.empty()) {
    std::string list;
    for (size_t i = 0; i < ignored.size(); ++i) list += (i ? ", " : "") + ignored[i];
    std::fprintf(stderr, "note: ignored MAML++ reference keys that have no effect in libmamlpp: %s\n", list.c_str());
  }
  return settings;
}

}  // namespace mamlpp::cli
