// The YAML schema of SimConfig. One visit() per section lists its keys; the
// same lists drive reading, writing and override checks, so the three cannot
// disagree, and adding a key is one line here.
#include "config_yaml.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <type_traits>

#include "dynshare/errors.hpp"

namespace dynshare {
namespace {

// stack.connectivity is one YAML scalar for two fields: "grid" | "full" | "period:<p>".
struct ConnectivityRef {
    Connectivity& kind;
    int& period;
};

// ---- the schema (the order here is the order of to_yaml) -------------------

template <class V> void visit(V& v, LayerParams& p) {
    v("neurons", p.neurons); v("kernel", p.kernel); v("init_mean", p.init_mean); v("init_std", p.init_std);
}
template <class V> void visit(V& v, DynamicsParams& p) {
    v("tau", p.tau); v("dt", p.dt); v("alpha", p.alpha); v("bias", p.bias); v("integrator", p.integrator);
    v("macro_step", p.macro_step); v("abs_tol", p.abs_tol); v("rel_tol", p.rel_tol);
}
template <class V> void visit(V& v, PlasticityParams& p) {
    v("lr", p.lr); v("gamma", p.gamma); v("momentum", p.momentum); v("schedule", p.schedule);
    v("schedule_t0", p.schedule_t0); v("delay_steps", p.delay_steps); v("form", p.form); v("tau_w", p.tau_w);
    v("lr_scaling", p.lr_scaling);
}
template <class V> void visit(V& v, InputParams& p) { v("presentation", p.presentation); v("noise_std", p.noise_std); }
template <class V> void visit(V& v, RunParams& p) {
    v("presentations", p.presentations); v("record_every", p.record_every); v("seed", p.seed);
    v("stream", p.stream); v("checkpoint_every", p.checkpoint_every); v("precision", p.precision);
}
template <class V> void visit(V& v, StackInput& p) { v("channels", p.channels); v("height", p.height); v("width", p.width); }
template <class V> void visit(V& v, StackLayer& p) {
    v("channels", p.channels); v("kernel", p.kernel); v("stride", p.stride); v("padding", p.padding);
    v("nonlinearity", p.nonlinearity); v("init_mean", p.init_mean); v("init_std", p.init_std);
}
template <class V> void visit(V& v, StackParams& p) {
    ConnectivityRef connectivity{p.connectivity, p.period};
    v("input", p.input); v("layers", p.layers); v("connectivity", connectivity); v("schedule", p.schedule);
    v("normalize", p.normalize); v("drive", p.drive); v("border", p.border);
}
template <class V> void visit(V& v, SimConfig& c) {
    v("model", c.model); v("layer", c.layer); v("dynamics", c.dynamics); v("plasticity", c.plasticity);
    v("input", c.input); v("run", c.run); v("stack", c.stack);  // stack.enabled: see Reader and Writer
}

template <class E> std::vector<E> enum_values();
template <> std::vector<ModelKind> enum_values() { return {ModelKind::ideal, ModelKind::ei_rate}; }
template <> std::vector<Integrator> enum_values() {
    return {Integrator::euler, Integrator::rk4, Integrator::dopri5, Integrator::exponential};
}
template <> std::vector<ScheduleKind> enum_values() {
    return {ScheduleKind::constant, ScheduleKind::inv, ScheduleKind::inv_sqrt};
}
template <> std::vector<PlasticityForm> enum_values() {
    return {PlasticityForm::automatic, PlasticityForm::discrete, PlasticityForm::continuous};
}
template <> std::vector<LrScaling> enum_values() { return {LrScaling::none, LrScaling::fan_in}; }
template <> std::vector<Precision> enum_values() { return {Precision::automatic, Precision::fp64, Precision::fp32}; }
template <> std::vector<BorderInput> enum_values() { return {BorderInput::zero, BorderInput::periodic}; }
template <> std::vector<Nonlinearity> enum_values() { return {Nonlinearity::relu, Nonlinearity::identity}; }
template <> std::vector<LayerSchedule> enum_values() {
    return {LayerSchedule::simultaneous, LayerSchedule::layer_by_layer};
}

// Sections are the structs with a visit(); the other class types are leaves.
template <class T>
constexpr bool is_section = std::is_class_v<T> && !std::is_same_v<T, std::vector<StackLayer>> &&
                            !std::is_same_v<T, ConnectivityRef>;

// ---- small helpers ----------------------------------------------------------

std::string join(const std::vector<std::string>& items, const char* sep) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
    return out;
}
std::string child_path(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

struct KeyLister {
    std::vector<std::string> keys;
    template <class T> void operator()(const char* key, T&) { keys.push_back(key); }
};
template <class S> std::vector<std::string> keys_of(S& section) {
    KeyLister lister;
    visit(lister, section);
    return lister.keys;
}

std::string unknown_key(const std::string& key, const std::string& section, const std::vector<std::string>& allowed) {
    return "unknown key '" + key + "' (" + (section.empty() ? "top-level" : section) + " keys: " + join(allowed, ", ") + ")";
}

[[noreturn]] void bad_value(const std::string& path, const YAML::Node& n, const std::string& problem) {
    throw UserError(path + " = " + (n.IsNull() ? "(nothing)" : yaml_text(n)) + ": " + problem);
}

// Shortest text that reads back to the same double; ".0" keeps a float a float.
std::string format_double(double x) {
    if (std::isnan(x)) return ".nan";
    if (std::isinf(x)) return x > 0 ? ".inf" : "-.inf";
    char buf[32];
    const std::string s(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
    return s.find_first_of(".e") == std::string::npos ? s + ".0" : s;
}

template <class E> std::string enum_names() {
    std::vector<std::string> names;
    for (E e : enum_values<E>()) names.push_back(to_string(e));
    return join(names, ", ");
}

// ---- reading ----------------------------------------------------------------

std::string scalar(const YAML::Node& n, const std::string& path, const std::string& expected) {
    if (!n.IsScalar()) bad_value(path, n, "expected " + expected);
    return n.Scalar();
}

// Strict: decimal digits only, so 2.5, 1e3 and 0x10 are errors, not silently converted.
template <class Int> std::errc parse_integer(const std::string& s, Int& value) {
    const char* first = s.data() + (s.size() > 1 && s[0] == '+');
    const auto [end, ec] = std::from_chars(first, s.data() + s.size(), value);
    return ec == std::errc() && end != s.data() + s.size() ? std::errc::invalid_argument : ec;
}

template <class Int> Int read_integer(const YAML::Node& n, const std::string& path) {
    const std::string expected = std::is_signed_v<Int> ? "an integer" : "a non-negative integer";
    Int value{};
    const std::errc ec = parse_integer(scalar(n, path, expected), value);
    if (ec == std::errc::result_out_of_range) bad_value(path, n, "out of range for this key");
    if (ec != std::errc()) bad_value(path, n, "expected " + expected);
    return value;
}

double read_double(const YAML::Node& n, const std::string& path) {
    scalar(n, path, "a number");
    try {
        return n.as<double>();  // yaml-cpp also knows .inf and .nan
    } catch (const YAML::BadConversion&) {
        bad_value(path, n, "expected a number");
    }
}

bool read_bool(const YAML::Node& n, const std::string& path) {
    scalar(n, path, "true or false");
    try {
        return n.as<bool>();
    } catch (const YAML::BadConversion&) {
        bad_value(path, n, "expected true or false");
    }
}

template <class E> E read_enum(const YAML::Node& n, const std::string& path) {
    const std::string expected = "one of " + enum_names<E>();
    const std::string s = scalar(n, path, expected);
    for (E e : enum_values<E>())
        if (s == to_string(e)) return e;
    bad_value(path, n, "expected " + expected);
}

template <class S> void read_section(const YAML::Node& n, const std::string& path, S& out);

template <class T> void read(const YAML::Node& n, const std::string& path, T& out) {
    if constexpr (std::is_same_v<T, bool>) out = read_bool(n, path);
    else if constexpr (std::is_enum_v<T>) out = read_enum<T>(n, path);
    else if constexpr (std::is_integral_v<T>) out = read_integer<T>(n, path);
    else if constexpr (std::is_floating_point_v<T>) out = read_double(n, path);
    else read_section(n, path, out);
}

void read(const YAML::Node& n, const std::string& path, std::vector<StackLayer>& out) {
    if (!n.IsSequence()) bad_value(path, n, "expected a list of layer maps");
    out.assign(n.size(), StackLayer{});
    for (size_t i = 0; i < n.size(); ++i) read(n[i], path + "[" + std::to_string(i) + "]", out[i]);
}

void read(const YAML::Node& n, const std::string& path, ConnectivityRef& c) {
    const std::string expected = "grid, full or period:<p> with an integer p";
    const std::string s = scalar(n, path, expected);
    const std::string prefix = "period:";
    if (s == "grid" || s == "full") {
        c.kind = s == "grid" ? Connectivity::grid : Connectivity::full;
        c.period = 0;
    } else if (s.compare(0, prefix.size(), prefix) == 0 && parse_integer(s.substr(prefix.size()), c.period) == std::errc()) {
        c.kind = Connectivity::period;
    } else {
        bad_value(path, n, "expected " + expected);
    }
}

void check_keys(const YAML::Node& map, const std::string& path, const std::vector<std::string>& allowed) {
    std::vector<std::string> seen;
    for (const auto& kv : map) {
        const std::string key = kv.first.Scalar();
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
            throw UserError(unknown_key(child_path(path, key), path, allowed));
        if (std::find(seen.begin(), seen.end(), key) != seen.end())
            throw UserError("duplicate key '" + child_path(path, key) + "'");
        seen.push_back(key);
    }
}

// Absent keys keep the struct defaults.
struct Reader {
    const YAML::Node& map;
    const std::string& path;
    template <class T> void operator()(const char* key, T& field) {
        const YAML::Node child = map[key];
        if (child) read(child, child_path(path, key), field);
    }
    // A stack section that is present and not empty switches the stack model on.
    void operator()(const char* key, StackParams& stack) {
        const YAML::Node child = map[key];
        stack.enabled = child && !child.IsNull();
        if (stack.enabled) read(child, child_path(path, key), stack);
    }
};

template <class S> void read_section(const YAML::Node& n, const std::string& path, S& out) {
    if (n.IsNull()) return;  // "layer:" with nothing below it: all defaults
    const std::vector<std::string> keys = keys_of(out);
    if (!n.IsMap()) bad_value(path, n, "expected a map with keys " + join(keys, ", "));
    check_keys(n, path, keys);
    Reader reader{n, path};
    visit(reader, out);
}

// ---- writing ----------------------------------------------------------------

struct Writer;
template <class T> void write(YAML::Emitter& out, T& value);

void write(YAML::Emitter& out, std::vector<StackLayer>& layers) {
    out << YAML::BeginSeq;
    for (StackLayer& layer : layers) write(out, layer);
    out << YAML::EndSeq;
}

void write(YAML::Emitter& out, ConnectivityRef& c) {
    if (c.kind == Connectivity::period) out << "period:" + std::to_string(c.period);
    else out << (c.kind == Connectivity::grid ? "grid" : "full");
}

struct Writer {
    YAML::Emitter& out;
    template <class T> void operator()(const char* key, T& field) {
        out << YAML::Key << key << YAML::Value;
        write(out, field);
    }
    void operator()(const char* key, StackParams& stack) {
        if (stack.enabled) operator()<StackParams>(key, stack);
    }
};

template <class T> void write(YAML::Emitter& out, T& value) {
    if constexpr (std::is_same_v<T, bool>) out << (value ? "true" : "false");
    else if constexpr (std::is_enum_v<T>) out << to_string(value);
    else if constexpr (std::is_integral_v<T>) out << std::to_string(value);
    else if constexpr (std::is_floating_point_v<T>) out << format_double(value);
    else {
        out << YAML::BeginMap;
        Writer writer{out};
        visit(writer, value);
        out << YAML::EndMap;
    }
}

// ---- overrides --------------------------------------------------------------

std::vector<std::string> split_key(const std::string& key_path) {
    std::vector<std::string> segments;
    size_t start = 0;
    for (size_t dot; (dot = key_path.find('.', start)) != std::string::npos; start = dot + 1)
        segments.push_back(key_path.substr(start, dot - start));
    segments.push_back(key_path.substr(start));
    for (const std::string& s : segments)
        if (s.empty()) throw UserError("bad key path '" + key_path + "': expected section.key");
    return segments;
}

std::string prefix_path(const std::vector<std::string>& segments, size_t count) {
    return join(std::vector<std::string>(segments.begin(), segments.begin() + count), ".");
}

// Walks the key path through the schema on a scratch config; at the last
// segment it reads the value into that field, which checks the value's type.
template <class S> void check_override(const std::vector<std::string>& segs, size_t i, const YAML::Node& value, S& section);

struct OverrideChecker {
    const std::vector<std::string>& segs;
    size_t i;
    const YAML::Node& value;
    bool found = false;
    template <class T> void operator()(const char* key, T& field) {
        if (segs[i] != key) return;
        found = true;
        const std::string path = prefix_path(segs, i + 1);
        if (i + 1 == segs.size()) read(value, path, field);
        else if constexpr (is_section<T>) check_override(segs, i + 1, value, field);
        else if constexpr (std::is_same_v<T, std::vector<StackLayer>>)
            throw UserError("'" + path + "' is a list: set it whole, e.g. " + path + "=[{channels: 8, kernel: 3}]");
        else throw UserError("'" + path + "' is a value, not a section");
    }
};

template <class S> void check_override(const std::vector<std::string>& segs, size_t i, const YAML::Node& value, S& section) {
    OverrideChecker checker{segs, i, value};
    visit(checker, section);
    if (!checker.found) throw UserError(unknown_key(prefix_path(segs, i + 1), prefix_path(segs, i), keys_of(section)));
}

bool is_empty(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

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
        if (!is_empty(root) && !root.IsMap())
            throw UserError("expected a map of sections (" + join(keys_of(cfg), ", ") + "), got " + yaml_text(root));
        if (!is_empty(root)) read_section(root, "", cfg);
        validate(cfg);
        return cfg;
    } catch (const UserError& e) {
        throw UserError(origin.empty() ? e.what() : origin + ": " + e.what());
    }
}

void apply_override(YAML::Node& root, const std::string& key_path, const YAML::Node& value) {
    const std::vector<std::string> segs = split_key(key_path);
    SimConfig scratch;
    check_override(segs, 0, value, scratch);
    if (is_empty(root)) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) throw UserError("the config is not a map of sections");
    YAML::Node cur = root;  // shares root's node: writes through
    for (size_t i = 0; i + 1 < segs.size(); ++i) {
        YAML::Node next = cur[segs[i]];  // created (as a map) when absent
        if (!is_empty(next) && !next.IsMap()) throw UserError("'" + prefix_path(segs, i + 1) + "' in the config is not a map");
        cur.reset(next);
    }
    cur[segs.back()] = YAML::Clone(value);
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
    const auto [key, value] = parse_override(key_eq_value);
    try {
        apply_override(root, key, value);
    } catch (const UserError& e) {
        throw UserError("--set " + key_eq_value + ": " + e.what());
    }
}

SimConfig parse_config(const std::string& yaml_text, const std::vector<std::string>& sets, const std::string& origin) {
    YAML::Node root = load_yaml(yaml_text, origin);
    for (const std::string& set : sets) apply_override(root, set);
    return config_from_node(root, origin);
}

SimConfig load_config(const std::string& path, const std::vector<std::string>& sets) {
    return parse_config(path.empty() ? std::string() : read_text_file(path, "config file"), sets, path);
}

std::string to_yaml(const SimConfig& cfg) {
    SimConfig copy = cfg;  // the visitors take non-const references
    YAML::Emitter out;
    write(out, copy);
    return std::string(out.c_str()) + "\n";
}

}  // namespace dynshare
