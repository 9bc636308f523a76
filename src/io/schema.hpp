// SPDX-License-Identifier: BSD-3-Clause
// The schema mechanism: one visit() per config section lists its keys, and the
// templates below turn those lists into the YAML reader, the YAML writer, the
// --set checks and the list of scalar leaves written as HDF5 attributes. The
// simulator (SimConfig, src/io/config_schema.hpp) and the trainer (RunConfig,
// src/trainer/train_config.cpp) instantiate them with their own visit()
// overloads, so each key of either program is listed exactly once.
//
// Customisation points, found by argument-dependent lookup:
//   template <class V> void visit(V& v, Section& s)   v("key", s.field); ... in file order
//   std::vector<E> enum_values(schema::tag<E>)        the allowed values of an enum
//   const char* to_string(E)                          an enum value's name
// and, for leaves that are neither numbers, bools, enums, strings nor lists
// of those, a specialisation of schema::Leaf<T> (read, write, text, list,
// allowed).
// A section that is switched on by being present (stack:) specialises
// schema::Optional<T>.
//
// Every error is a one-line UserError naming the key path:
//   unknown key 'train.lrr' (train keys: epochs, batch_size, ...)
//   dynamics.integrator = leapfrog: expected one of euler, rk4, dopri5, exponential
#pragma once
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "dynshare/errors.hpp"
#include "io/config_yaml.hpp"
#include "io/key_doc.hpp"
#include "io/scalar_value.hpp"

namespace dynshare::schema {

template <class T> struct tag {};

// A leaf with its own YAML form. `list` leaves are set whole by --set and are
// not HDF5 attributes; others give their attribute text with text().
template <class T> struct Leaf {
    static constexpr bool custom = false;
};

// A section whose presence switches something on (absent: not written).
template <class T> struct Optional {
    static constexpr bool value = false;
};

template <class T> struct is_vector : std::false_type {};
template <class T, class A> struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
constexpr bool is_section = std::is_class_v<T> && !Leaf<T>::custom && !std::is_same_v<T, std::string> &&
                            !is_vector<T>::value;

// ---- small helpers ----------------------------------------------------------

inline std::string join(const std::vector<std::string>& items, const char* sep) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
    return out;
}
inline std::string child_path(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

struct KeyLister {
    std::vector<std::string> keys;
    template <class T> void operator()(const char* key, T&) { keys.push_back(key); }
};
template <class S> std::vector<std::string> keys_of(S& section) {
    KeyLister lister;
    visit(lister, section);
    return lister.keys;
}

inline std::string unknown_key(const std::string& key, const std::string& section, const std::vector<std::string>& allowed) {
    return "unknown key '" + key + "' (" + (section.empty() ? "top-level" : section) + " keys: " + join(allowed, ", ") + ")";
}

[[noreturn]] inline void bad_value(const std::string& path, const YAML::Node& n, const std::string& problem) {
    throw UserError(path + " = " + (n.IsNull() ? "(nothing)" : yaml_text(n)) + ": " + problem);
}

// Shortest text that reads back to the same double; ".0" keeps a float a float.
inline std::string format_double(double x) {
    if (std::isnan(x)) return ".nan";
    if (std::isinf(x)) return x > 0 ? ".inf" : "-.inf";
    char buf[32];
    const std::string s(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
    return s.find_first_of(".e") == std::string::npos ? s + ".0" : s;
}

template <class E> std::string enum_names() {
    std::vector<std::string> names;
    for (E e : enum_values(tag<E>{})) names.push_back(to_string(e));
    return join(names, ", ");
}

inline bool is_empty(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

// ---- reading ----------------------------------------------------------------

inline std::string scalar(const YAML::Node& n, const std::string& path, const std::string& expected) {
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

inline double read_double(const YAML::Node& n, const std::string& path) {
    scalar(n, path, "a number");
    try {
        return n.as<double>();  // yaml-cpp also knows .inf and .nan
    } catch (const YAML::BadConversion&) {
        bad_value(path, n, "expected a number");
    }
}

inline bool read_bool(const YAML::Node& n, const std::string& path) {
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
    for (E e : enum_values(tag<E>{}))
        if (s == to_string(e)) return e;
    bad_value(path, n, "expected " + expected);
}

template <class S> void read_section(const YAML::Node& n, const std::string& path, S& out);

template <class T> void read_value(const YAML::Node& n, const std::string& path, T& out) {
    if constexpr (Leaf<T>::custom) Leaf<T>::read(n, path, out);
    else if constexpr (std::is_same_v<T, bool>) out = read_bool(n, path);
    else if constexpr (std::is_enum_v<T>) out = read_enum<T>(n, path);
    else if constexpr (std::is_integral_v<T>) out = read_integer<T>(n, path);
    else if constexpr (std::is_floating_point_v<T>) out = read_double(n, path);
    else if constexpr (std::is_same_v<T, std::string>) out = scalar(n, path, "a string");
    else if constexpr (is_vector<T>::value) {
        if (!n.IsSequence()) bad_value(path, n, "expected a list");
        out.assign(n.size(), typename T::value_type{});
        for (size_t i = 0; i < n.size(); ++i) read_value(n[i], path + "[" + std::to_string(i) + "]", out[i]);
    } else read_section(n, path, out);
}

inline void check_keys(const YAML::Node& map, const std::string& path, const std::vector<std::string>& allowed) {
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
        if constexpr (Optional<T>::value) {
            // A section that is present and not empty switches its feature on.
            bool& on = Optional<T>::enabled(field);
            on = child && !child.IsNull();
            if (on) read_value(child, child_path(path, key), field);
        } else {
            if (child) read_value(child, child_path(path, key), field);
        }
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

// The whole tree (null = all defaults) into `cfg`; not validated.
template <class Root> void read_root(const YAML::Node& root, Root& cfg) {
    if (!is_empty(root) && !root.IsMap())
        throw UserError("expected a map of sections (" + join(keys_of(cfg), ", ") + "), got " + yaml_text(root));
    if (!is_empty(root)) read_section(root, "", cfg);
}

// ---- writing ----------------------------------------------------------------

template <class T> void write_value(YAML::Emitter& out, T& value);

struct Writer {
    YAML::Emitter& out;
    template <class T> void operator()(const char* key, T& field) {
        if constexpr (Optional<T>::value)
            if (!Optional<T>::enabled(field)) return;
        out << YAML::Key << key << YAML::Value;
        write_value(out, field);
    }
};

template <class T> void write_value(YAML::Emitter& out, T& value) {
    if constexpr (Leaf<T>::custom) Leaf<T>::write(out, value);
    else if constexpr (std::is_same_v<T, bool>) out << (value ? "true" : "false");
    else if constexpr (std::is_enum_v<T>) out << to_string(value);
    else if constexpr (std::is_integral_v<T>) out << std::to_string(value);
    else if constexpr (std::is_floating_point_v<T>) out << format_double(value);
    else if constexpr (std::is_same_v<T, std::string>) out << value;
    else if constexpr (is_vector<T>::value) {
        if constexpr (!is_section<typename T::value_type>) out << YAML::Flow;
        out << YAML::BeginSeq;
        for (auto& item : value) write_value(out, item);
        out << YAML::EndSeq;
    } else {
        out << YAML::BeginMap;
        Writer writer{out};
        visit(writer, value);
        out << YAML::EndMap;
    }
}

// The fully resolved config (every key) as YAML.
template <class Root> std::string write_yaml(const Root& cfg) {
    Root copy = cfg;  // the visitors take non-const references
    YAML::Emitter out;
    write_value(out, copy);
    return std::string(out.c_str()) + "\n";
}

// ---- scalar leaves (HDF5 attributes under their full key paths) -------------

template <class F> struct ScalarWalker {
    F& f;
    std::string path;
    template <class T> void operator()(const char* key, T& field) {
        const std::string p = child_path(path, key);
        ScalarValue v;
        if constexpr (Optional<T>::value)
            if (!Optional<T>::enabled(field)) return;
        if constexpr (Leaf<T>::custom) {
            if constexpr (!Leaf<T>::list) {
                v.kind = ScalarValue::text;
                v.s = Leaf<T>::text(field);
                f(p, v);
            }
        } else if constexpr (std::is_same_v<T, bool>) {
            v.i = field ? 1 : 0;
            f(p, v);
        } else if constexpr (std::is_enum_v<T>) {
            v.kind = ScalarValue::text;
            v.s = to_string(field);
            f(p, v);
        } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
            v.kind = ScalarValue::unsigned_integer;
            v.u = uint64_t(field);
            f(p, v);
        } else if constexpr (std::is_integral_v<T>) {
            v.i = int64_t(field);
            f(p, v);
        } else if constexpr (std::is_floating_point_v<T>) {
            v.kind = ScalarValue::real;
            v.d = double(field);
            f(p, v);
        } else if constexpr (std::is_same_v<T, std::string>) {
            v.kind = ScalarValue::text;
            v.s = field;
            f(p, v);
        } else if constexpr (is_section<T>) {
            ScalarWalker<F> inner{f, p};
            visit(inner, field);
        }  // lists are not scalar leaves
    }
};

// Calls f(key_path, ScalarValue) for every scalar leaf that write_yaml writes,
// in the schema's order (lists are skipped: they live in the config YAML only).
template <class Root, class F> void for_each_scalar(const Root& cfg, F&& f) {
    Root copy = cfg;
    ScalarWalker<std::remove_reference_t<F>> walker{f, ""};
    visit(walker, copy);
}

// The same as a list, in the schema's order.
template <class Root> Scalars scalars(const Root& cfg) {
    Scalars out;
    for_each_scalar(cfg, [&](const std::string& path, const ScalarValue& v) { out.emplace_back(path, v); });
    return out;
}

// ---- the reference (dynshare config --reference) -----------------------------

// Each key as the schema knows it (io/key_doc.hpp): its full path, YAML type,
// default (the value in the given config, written as the config writer writes
// it) and, for enums and custom leaves, the allowed values. The meaning and
// range are in the one table of src/io/key_descriptions.cpp, by path.

template <class T> std::string type_name() {
    if constexpr (std::is_same_v<T, bool>) return "bool";
    else if constexpr (std::is_enum_v<T>) return "enum";
    else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) return "unsigned integer";
    else if constexpr (std::is_integral_v<T>) return "integer";
    else if constexpr (std::is_floating_point_v<T>) return "number";
    else if constexpr (std::is_same_v<T, std::string>) return "string";
    else if constexpr (is_vector<T>::value) {
        if constexpr (is_section<typename T::value_type>) return "list of maps";
        else return "list of " + type_name<typename T::value_type>();
    } else return "string";  // custom leaves are one YAML scalar
}

template <class T> std::string default_text(T& value) {
    YAML::Emitter out;
    write_value(out, value);
    return out.c_str();
}

struct Describer {
    std::vector<KeyDoc>& out;
    std::string path;
    template <class T> void operator()(const char* key, T& field) {
        const std::string p = child_path(path, key);
        if constexpr (Leaf<T>::custom) {
            out.push_back({p, type_name<T>(), Leaf<T>::text(field), Leaf<T>::allowed()});
        } else if constexpr (is_section<T>) {
            Describer inner{out, p};
            visit(inner, field);
        } else if constexpr (is_vector<T>::value) {
            out.push_back({p, type_name<T>(), default_text(field), ""});
            if constexpr (is_section<typename T::value_type>) {  // list items: "stack.layers[].kernel"
                typename T::value_type item{};
                Describer inner{out, p + "[]"};
                visit(inner, item);
            }
        } else if constexpr (std::is_enum_v<T>) {
            out.push_back({p, type_name<T>(), default_text(field), enum_names<T>()});
        } else {
            out.push_back({p, type_name<T>(), default_text(field), ""});
        }
    }
};

// Every key of Root, in the schema's order (sections' keys in visit() order).
template <class Root> std::vector<KeyDoc> describe(const Root& cfg) {
    Root copy = cfg;
    std::vector<KeyDoc> out;
    Describer d{out, ""};
    visit(d, copy);
    return out;
}

// ---- overrides --------------------------------------------------------------

inline std::vector<std::string> split_key(const std::string& key_path) {
    std::vector<std::string> segments;
    size_t start = 0;
    for (size_t dot; (dot = key_path.find('.', start)) != std::string::npos; start = dot + 1)
        segments.push_back(key_path.substr(start, dot - start));
    segments.push_back(key_path.substr(start));
    for (const std::string& s : segments)
        if (s.empty()) throw UserError("bad key path '" + key_path + "': expected section.key");
    return segments;
}

inline std::string prefix_path(const std::vector<std::string>& segments, size_t count) {
    return join(std::vector<std::string>(segments.begin(), segments.begin() + count), ".");
}

template <class S> void check_override_in(const std::vector<std::string>& segs, size_t i, const YAML::Node& value, S& section);

// Walks the key path through the schema on a scratch config; at the last
// segment it reads the value into that field, which checks the value's type.
struct OverrideChecker {
    const std::vector<std::string>& segs;
    size_t i;
    const YAML::Node& value;
    bool found = false;
    template <class T> void operator()(const char* key, T& field) {
        if (segs[i] != key) return;
        found = true;
        const std::string path = prefix_path(segs, i + 1);
        if (i + 1 == segs.size()) read_value(value, path, field);
        else if constexpr (is_section<T>) check_override_in(segs, i + 1, value, field);
        else if constexpr (is_vector<T>::value) {
            if constexpr (is_section<typename T::value_type>)
                throw UserError("'" + path + "' is a list: set it whole, e.g. " + path + "=[{channels: 8, kernel: 3}]");
            else throw UserError("'" + path + "' is a list: set it whole, e.g. " + path + "=[1, 2]");
        } else throw UserError("'" + path + "' is a value, not a section");
    }
};

template <class S> void check_override_in(const std::vector<std::string>& segs, size_t i, const YAML::Node& value, S& section) {
    OverrideChecker checker{segs, i, value};
    visit(checker, section);
    if (!checker.found) throw UserError(unknown_key(prefix_path(segs, i + 1), prefix_path(segs, i), keys_of(section)));
}

// Checks key path and value against the schema of Root, then sets the value
// in the YAML tree (missing sections are created; lists are replaced whole).
// Errors carry no prefix.
template <class Root> void apply_override(YAML::Node& root, const std::string& key_path, const YAML::Node& value) {
    const std::vector<std::string> segs = split_key(key_path);
    Root scratch{};
    check_override_in(segs, 0, value, scratch);
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

// "--set key.path=value": the same, with errors prefixed "--set <override>: ".
template <class Root> void apply_override(YAML::Node& root, const std::string& key_eq_value) {
    const auto [key, value] = parse_override(key_eq_value);
    try {
        apply_override<Root>(root, key, value);
    } catch (const UserError& e) {
        throw UserError("--set " + key_eq_value + ": " + e.what());
    }
}

}  // namespace dynshare::schema
