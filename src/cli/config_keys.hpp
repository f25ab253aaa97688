// The keys `mamlpp train` (and eval) accept in a JSON config file, on the command line (named
// flags and --set key=value) and in a run's state.json.
//
// There is one canonical name per setting: libmamlpp's own (the maml_config field names, plus
// data and run keys). The MAML++ reference implementation's experiment-config keys that mean the
// same thing are accepted as aliases; reference keys that do nothing here are accepted and
// ignored (or accepted only with the one value libmamlpp implements). Anything else is an error
// naming the key and the source, with the closest known key suggested.
//
// Settings travel as a "canonical" JSON object holding every canonical key; settings.hpp decodes
// it into typed fields. state.json stores that object, so a resumed run sees exactly the settings
// of the original one.
#pragma once

#include <mamlpp/mamlpp.h>

#include <functional>
#include <utility>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mamlpp::cli {

enum class KeyKind { Int, UInt64, OptUInt64, Float, Bool, OptBool, String, Choice, FloatList, StringList, IntList };
enum class KeyGroup { Model, Data, Run };

struct KeyDef {
  KeyDef(std::string n, KeyKind k, KeyGroup g, std::string d, std::vector<std::string> c = {}, bool e = false)
      : name(std::move(n)), kind(k), group(g), doc(std::move(d)), choices(std::move(c)), int_enum(e) {}
  std::string name;
  KeyKind kind;
  KeyGroup group;
  std::string doc;
  std::vector<std::string> choices;  // Choice: accepted names, lower case
  bool int_enum = false;             // Choice whose value i is also accepted as the integer i
};

struct AliasDef {
  AliasDef(std::string n, std::vector<std::string> t, std::string d,
           std::function<nlohmann::json(const nlohmann::json&)> f, bool s = false)
      : name(std::move(n)), targets(std::move(t)), doc(std::move(d)), transform(std::move(f)), soft(s) {}
  std::string name;                  // the reference's key
  std::vector<std::string> targets;  // canonical keys it sets
  std::string doc;                   // how the value is translated, when it is
  // Translates the alias's raw value into the canonical key's raw value (before type checks).
  std::function<nlohmann::json(const nlohmann::json&)> transform;
  bool soft = false;  // overridden silently by an explicit canonical key in the same source
};

struct IgnoredDef {
  std::string name;
  std::string note;
  // null: any value is accepted; otherwise the only accepted value (what libmamlpp does).
  nlohmann::json required;
};

const std::vector<KeyDef>& canonical_keys();
const std::vector<AliasDef>& reference_aliases();
const std::vector<IgnoredDef>& ignored_keys();
const KeyDef* find_key(const std::string& name);

// Every canonical key with its default (model keys from maml_config_init).
nlohmann::json default_settings();

// Applies every member of `source` (a JSON object of accepted keys) onto `settings` (canonical).
// `where` names the source in messages: a file path or "command line". Unknown keys, wrong types
// and conflicting values throw CliError(kExitUsage). Keys ignored here are appended to `ignored`.
// When `allowed` is set, a key whose canonical target it refuses is an error too (used on resume).
void apply_keys(const nlohmann::json& source, const std::string& where, nlohmann::json& settings,
                std::vector<std::string>* ignored = nullptr,
                const std::function<bool(const KeyDef&)>& allowed = {});

// The known key (canonical, alias or ignored) nearest to `unknown`, or "" when none is close.
std::string closest_key(const std::string& unknown);

// The name in `candidates` nearest to `unknown` (edit distance, case-insensitive), or "" when
// none is close; used for mistyped commands and options.
std::string closest_name(const std::string& unknown, const std::vector<std::string>& candidates);

// The table printed by `mamlpp train --list-keys`.
std::string keys_table_text();

// Parses a command-line value: JSON when it is valid JSON (5, 0.1, true, [1,2], "x"), otherwise
// the plain string; for list kinds a comma-separated string becomes an array. A value nested
// deeper than kMaxJsonDepth is an error (kExitUsage) naming `key`.
nlohmann::json parse_cli_value(const std::string& text, KeyKind kind, const std::string& key);

// The kind of whatever key `name` is (alias: its first target's kind), String when unknown.
KeyKind kind_of_any_key(const std::string& name);

}  // namespace mamlpp::cli
