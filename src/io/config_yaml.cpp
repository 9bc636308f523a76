// SPDX-License-Identifier: BSD-3-Clause
// YAML <-> SimConfig. The keys are listed once, in config_schema.hpp (one
// visit() per section); the generic reader, writer and override checks of
// schema.hpp do the rest, so the three cannot disagree.
#include "config_yaml.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

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
    const auto fail = [&](const std::string& why) { throw UserError("cannot read " + what + " '" + path + "': " + why); };
    // O_NONBLOCK: a FIFO without a writer must not block the open; anything
    // but a regular file (a folder, FIFO, device) is refused before reading.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) fail(std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        const bool dir = S_ISDIR(st.st_mode);
        ::close(fd);
        fail(dir ? std::strerror(EISDIR) : "not a regular file (a FIFO, device or socket); give a YAML file");
    }
    std::string text;
    char buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            fail(std::strerror(err));
        }
        if (n == 0) break;
        text.append(buf, size_t(n));
    }
    ::close(fd);
    return text;
}

namespace {

// Takes a document's events and keeps nothing: enough to ask the parser
// whether a second document follows.
struct IgnoreEvents : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

// A document marker (--- or ...) can only stand at the start of a line.
bool has_document_marker(const std::string& text) {
    size_t line = 0;
    while (line < text.size()) {
        if (text.compare(line, 3, "---") == 0 || text.compare(line, 3, "...") == 0) return true;
        const size_t end = text.find('\n', line);
        if (end == std::string::npos) break;
        line = end + 1;
    }
    return false;
}

// Whether TEXT holds a second YAML document after its first. Asks the parser
// for at most two documents: YAML::LoadAll of yaml-cpp 0.7 never returns on
// some malformed inputs (found by fuzz/run.sh; fuzz/regressions/config/).
bool has_second_document(const std::string& text) {
    if (!has_document_marker(text)) return false;
    std::istringstream in(text);
    YAML::Parser parser(in);
    IgnoreEvents ignore;
    return parser.HandleNextDocument(ignore) && parser.HandleNextDocument(ignore);
}

}  // namespace

YAML::Node load_yaml(const std::string& text, const std::string& origin) {
    try {
        // One document: a second one (after ---) would be ignored silently.
        if (has_second_document(text))
            throw UserError((origin.empty() ? std::string("config") : origin) +
                            ": holds more than one YAML document (separated by ---); give one");
        return YAML::Load(text);
    } catch (const YAML::ParserException& e) {
        throw UserError((origin.empty() ? "config" : origin) + ":" + std::to_string(e.mark.line + 1) + ":" +
                        std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
    }
}

void require_keys(const YAML::Node& root, const std::string& path) {
    if (!root || root.IsNull())
        throw UserError(path + ": the config is empty (only comments or nothing); give at least one key, or "
                        "leave out the file to run the built-in default");
    if (!root.IsMap())
        throw UserError(path + ": the config must be a mapping of sections (key: value), not a " +
                        (root.IsSequence() ? std::string("list") : std::string("single value")));
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

namespace {
// The overrides applied to a parsed tree, then the typed config: the one path
// from a YAML tree to a SimConfig for a text and for a file.
SimConfig config_with_overrides(YAML::Node root, const std::vector<std::string>& sets, const std::string& origin) {
    for (const std::string& set : sets) apply_override(root, set);
    return config_from_node(root, origin);
}
}  // namespace

SimConfig parse_config(const std::string& yaml_text, const std::vector<std::string>& sets, const std::string& origin) {
    return config_with_overrides(load_yaml(yaml_text, origin), sets, origin);
}

SimConfig load_config(const std::string& path, const std::vector<std::string>& sets) {
    if (path.empty()) return parse_config(std::string(), sets, path);
    // The file is parsed once: its tree is checked for keys, then read.
    YAML::Node root = load_yaml(read_text_file(path, "config file"), path);
    require_keys(root, path);
    return config_with_overrides(root, sets, path);
}

std::string to_yaml(const SimConfig& cfg) { return schema::write_yaml(cfg); }

schema::Scalars config_scalars(const SimConfig& cfg) { return schema::scalars(cfg); }

}  // namespace dynshare
