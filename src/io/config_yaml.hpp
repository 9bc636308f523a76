// SPDX-License-Identifier: BSD-3-Clause
// YAML <-> SimConfig, the only place where the run configuration is YAML.
// Every error is a one-line dynshare::UserError naming the key path.
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

#include "dynshare/config.hpp"
#include "io/scalar_value.hpp"

namespace dynshare {

// Built-in defaults = Fig. 4B single-layer run (the struct defaults).
// `path` may be empty (defaults only). `sets` are "key.path=value" overrides
// applied after the file. The result is validated.
SimConfig load_config(const std::string& path, const std::vector<std::string>& sets);
SimConfig parse_config(const std::string& yaml_text, const std::vector<std::string>& sets,
                       const std::string& origin /* file name for messages */);

// Fully resolved config; parse_config(to_yaml(c)) == c exactly (doubles are
// printed with the fewest digits that read back to the same value).
std::string to_yaml(const SimConfig& cfg);

// Every scalar leaf that to_yaml writes, under its full key path
// ("layer.kernel", "dynamics.alpha", "stack.connectivity"...): the parameter
// attributes of every run group (lists such as stack.layers are left out).
schema::Scalars config_scalars(const SimConfig& cfg);

// Apply one override to a YAML tree: "dynamics.alpha=3" or
// "stack.layers=[{channels: 8}]". The value is YAML; missing sections are
// created. The key and the value's type are checked against the schema
// (errors start with "--set <override>: "). Lists are replaced whole.
void apply_override(YAML::Node& root, const std::string& key_eq_value);
// The same with the key path and the value apart; errors carry no prefix.
void apply_override(YAML::Node& root, const std::string& key_path, const YAML::Node& value);
// Splits "key.path=value" and parses the value as YAML (not checked against
// the schema); errors start with "--set <override>: ".
std::pair<std::string, YAML::Node> parse_override(const std::string& key_eq_value);

// Reads a tree (null = all defaults) and validates it; errors start with
// "<origin>: " when origin is not empty.
SimConfig config_from_node(const YAML::Node& root, const std::string& origin);

// Helpers shared with the sweep loader.
// "cannot read <what> 'x.yaml': No such file or directory".
std::string read_text_file(const std::string& path, const std::string& what);
// YAML::Load with syntax errors reported as "<origin>:<line>:<column>: ...".
YAML::Node load_yaml(const std::string& text, const std::string& origin);
// Throws UserError naming `path` when a config file's root is empty (nothing
// or only comments) or not a mapping (a list, a scalar).
void require_keys(const YAML::Node& root, const std::string& path);
// A node as one line of YAML (scalars as written, collections in flow style).
std::string yaml_text(const YAML::Node& node);

}  // namespace dynshare
