// SPDX-License-Identifier: BSD-3-Clause
// Checks a file's HDF5 paths against docs/hdf5_layout.txt (the one list of
// the layout, schema_version 1). Shared by tests/test_hdf5_layout.cpp and the
// trainer's tests; needs only the HDF5 C API.
#pragma once
#include <hdf5.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace dynshare::layout {

struct Expected {
    std::set<std::string> required, optional;  // "G /snr", "D /snr/step", "A /@config"
    bool has(const std::string& e) const { return required.count(e) || optional.count(e); }
};

// The entries of one kind (single, stack, sweep, training) of the list file.
inline Expected expected(const std::string& list_file, const std::string& kind) {
    Expected out;
    std::ifstream in(list_file);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ss(line);
        std::string k, type, path;
        ss >> k >> type;
        std::getline(ss >> std::ws, path);
        if (k != kind) continue;
        const bool opt = !path.empty() && path.back() == '?';
        if (opt) path.pop_back();
        (opt ? out.optional : out.required).insert(type + " " + path);
    }
    return out;
}

inline bool all_digits(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

// "/layers/0/weights_final" -> "/layers/<l>/weights_final", "/runs/3" -> "/runs/<index>".
inline std::string normalise(const std::string& path) {
    std::string out, prev;
    std::istringstream ss(path);
    std::string part;
    while (std::getline(ss, part, '/')) {
        if (part.empty()) continue;
        std::string p = part;
        if (all_digits(part) && prev == "layers") p = "<l>";
        else if (all_digits(part) && prev == "runs") p = "<index>";
        out += "/" + p;
        prev = part;
    }
    return out.empty() ? "/" : out;
}

struct Found {
    std::set<std::string> entries;
    std::set<std::string> run_attrs;  // dotted attribute names of run objects (config keys)
};

namespace detail {
struct Walk {
    hid_t file;
    std::set<std::string> config_keys;
    Found found;

    void attrs_of(const std::string& raw_path, const std::string& norm) {
        hid_t obj = H5Oopen(file, raw_path.c_str(), H5P_DEFAULT);
        if (obj < 0) return;
        H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
        H5Oget_info3(obj, &info, H5O_INFO_NUM_ATTRS);
#else
        H5Oget_info(obj, &info);
#endif
        for (hsize_t i = 0; i < info.num_attrs; ++i) {
            const ssize_t len = H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
            std::string name(static_cast<size_t>(len) + 1, '\0');
            H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
            name.resize(static_cast<size_t>(len));
            std::string shown = name;
            if (name.find('.') != std::string::npos) {
                found.run_attrs.insert(name);
                shown = config_keys.count(name) ? "<config key>" : "<swept key>";
            }
            found.entries.insert("A " + (norm == "/" ? std::string("/") : norm) + "@" + shown);
        }
        H5Oclose(obj);
    }
};

inline herr_t visit_cb(hid_t, const char* name, const H5O_info_t* info, void* data) {
    auto* w = static_cast<Walk*>(data);
    const std::string raw = std::string(name) == "." ? "/" : "/" + std::string(name);
    const std::string norm = normalise(raw);
    if (raw != "/") {
        if (info->type == H5O_TYPE_GROUP) w->found.entries.insert("G " + norm);
        else if (info->type == H5O_TYPE_DATASET) w->found.entries.insert("D " + norm);
    }
    w->attrs_of(raw, norm);
    return 0;
}
}  // namespace detail

// Every group, dataset and attribute of the file, normalised. Attribute names
// with a dot are <config key> when in `config_keys`, else <swept key>.
inline Found walk(const std::string& file_path, const std::set<std::string>& config_keys) {
    detail::Walk w{-1, config_keys, {}};
    w.file = H5Fopen(file_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (w.file < 0) return w.found;
#if H5_VERSION_GE(1, 12, 0)
    H5Ovisit3(w.file, H5_INDEX_NAME, H5_ITER_INC, detail::visit_cb, &w, H5O_INFO_BASIC);
#else
    H5Ovisit(w.file, H5_INDEX_NAME, H5_ITER_INC, detail::visit_cb, &w);
#endif
    H5Fclose(w.file);
    return w.found;
}

// What differs between a file and the list; empty when they agree. Every
// config key must also be present as an attribute of the run objects.
inline std::vector<std::string> compare(const std::string& file_path, const std::string& list_file,
                                        const std::string& kind, const std::set<std::string>& config_keys) {
    const Expected want = expected(list_file, kind);
    const Found got = walk(file_path, config_keys);
    std::vector<std::string> problems;
    if (want.required.empty()) problems.push_back("no entries of kind '" + kind + "' in " + list_file);
    for (const auto& e : got.entries)
        if (!want.has(e)) problems.push_back("in the file, not in the list: " + e);
    for (const auto& e : want.required)
        if (!got.entries.count(e)) problems.push_back("in the list, not in the file: " + e);
    for (const auto& k : config_keys)
        if (k.find('.') != std::string::npos && !got.run_attrs.count(k))
            problems.push_back("config key without its attribute: " + k);
    return problems;
}

inline std::string join_lines(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += x + "\n";
    return s;
}

}  // namespace dynshare::layout
