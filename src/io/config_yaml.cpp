// YAML <-> SimConfig. The keys are listed once, in config_schema.hpp (one
// visit() per section); the generic reader, writer and override checks of
// schema.hpp do the rest, so the three cannot disagree.
#include "config_yaml.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "dynshare/errors.hpp"
#include "io/config_schema.hpp"

namespace dynshare {
namespace {

std::string trim(const std::string& s) {
    const size_t first = s.find_first_not_of(" \t"), last = s.find_last_not_of(" \t");
    return first == std::string::npos ? "" : s.substr(first, last - first + 1);
}

}  // namespace

// ---- public -----------------------------------------------------------------

std::string yaml_text(const YAML::Node& node) {
    YAML::Emitter out;
    out << YAML::Flow << node;
    return out.c_str();
}

std::string read_text_file(const std::string& path, const std::string& what) {
    const auto fail = [&](int err) { throw UserError("cannot read " + what + " '" + path + "': " + std::strerror(err)); };
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) fail(EISDIR);
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail(errno);
    std::string text;
    char buf[1 << 16];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    const int err = std::ferror(f) ? errno : 0;
    std::fclose(f);
    if (err) fail(err);
    return text;
}

YAML::Node load_yaml(const std::string& text, const std::string& origin) {
    try {
        return YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        throw UserError((origin.empty() ? "config" : origin) + ":" + std::to_string(e.mark.line + 1) + ":" +
                        std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
    }
}

SimConfig config_from_node(const YAML::Node& root, const std::string& origin) {
    try {
        SimConfig cfg;
        schema::read_root(root, cfg);
        validate(cfg);
        return cfg;
    } catch (const UserError& e) {
        throw UserError(origin.empty() ? e.what() : origin + ": " + e.what());
    }
}

void apply_override(YAML::Node& root, const std::string& key_path, const YAML::Node& value) {
    schema::apply_override<SimConfig>(root, key_path, value);
}

std::pair<std::string, YAML::Node> parse_override(const std::string& key_eq_value) {
    const std::string prefix = "--set " + key_eq_value + ": ";
    const size_t eq = key_eq_value.find('=');
    if (eq == std::string::npos) throw UserError(prefix + "expected key.path=value");
    try {
        return {trim(key_eq_value.substr(0, eq)), YAML::Load(key_eq_value.substr(eq + 1))};
    } catch (const YAML::ParserException& e) {
        throw UserError(prefix + "bad YAML value: " + e.msg);
    }
}

void apply_override(YAML::Node& root, const std::string& key_eq_value) {
    schema::apply_override<SimConfig>(root, key_eq_value);
}

SimConfig parse_config(const std::string& yaml_text, const std::vector<std::string>& sets, const std::string& origin) {
    YAML::Node root = load_yaml(yaml_text, origin);
    for (const std::string& set : sets) apply_override(root, set);
    return config_from_node(root, origin);
}

SimConfig load_config(const std::string& path, const std::vector<std::string>& sets) {
    return parse_config(path.empty() ? std::string() : read_text_file(path, "config file"), sets, path);
}

std::string to_yaml(const SimConfig& cfg) { return schema::write_yaml(cfg); }

schema::Scalars config_scalars(const SimConfig& cfg) { return schema::scalars(cfg); }

}  // namespace dynshare
