// SPDX-License-Identifier: BSD-3-Clause
// Sweep files: a base config, shared overrides, and the points to vary.
// Each run is built from the same YAML text that SweepRun::values reports,
// so `--set key=text` on the command line rebuilds exactly that run.
#include "sweep_config.hpp"

#include <algorithm>
#include <filesystem>

#include "config_yaml.hpp"
#include "dynshare/errors.hpp"

namespace dynshare {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kSweepKeys = {"base", "set", "grid", "lists", "trials"};
// Far beyond any sensible sweep; stops a typo from exhausting memory.
// The most runs one sweep file may expand to. The fuzz build lowers it
// (fuzz/build.sh): a valid sweep of 10^5 runs is slow to expand under ASan,
// not wrong, and must not read as a hang.
#ifndef DYNSHARE_MAX_SWEEP_RUNS
#define DYNSHARE_MAX_SWEEP_RUNS 1000000
#endif
constexpr int64_t kMaxRuns = DYNSHARE_MAX_SWEEP_RUNS;

struct Axis {  // one varied key and its values as YAML text
    std::string key;
    std::vector<std::string> values;
};

void check_sweep_keys(const YAML::Node& root) {
    std::vector<std::string> seen;
    for (const auto& kv : root) {
        const std::string key = kv.first.Scalar();
        if (std::find(kSweepKeys.begin(), kSweepKeys.end(), key) == kSweepKeys.end())
            throw UserError("unknown key '" + key + "' (sweep keys: base, set, grid, lists, trials)");
        // yaml-cpp keeps both copies of a repeated key and root["grid"] reads
        // the first: the second would be silently ignored (fuzz_sweep finding).
        if (std::find(seen.begin(), seen.end(), key) != seen.end())
            throw UserError("duplicate key '" + key + "' (each sweep key may appear once)");
        seen.push_back(key);
    }
}

// Relative to the sweep file's directory first, then the current directory.
std::string find_base(const YAML::Node& node, const std::string& sweep_path) {
    if (!node || !node.IsScalar()) throw UserError("base: expected the path of a run config file");
    const fs::path base = node.Scalar();
    std::vector<fs::path> candidates;
    if (base.is_relative() && !fs::path(sweep_path).parent_path().empty())
        candidates.push_back(fs::path(sweep_path).parent_path() / base);
    candidates.push_back(base);
    std::string tried;
    for (const fs::path& c : candidates) {
        std::error_code ec;
        if (fs::exists(c, ec)) return c.string();
        tried += (tried.empty() ? "'" : " and '") + c.string() + "'";
    }
    throw UserError("base = " + base.string() + ": no such file (looked for " + tried + ")");
}

int read_trials(const YAML::Node& node) {
    if (!node) return 1;
    int trials = 0;
    try {
        trials = node.as<int>();
    } catch (const YAML::BadConversion&) {
    }
    if (trials < 1) throw UserError("trials = " + yaml_text(node) + ": must be an integer >= 1");
    return trials;
}

// `set`, `grid` and `lists` map key paths to values.
std::vector<std::pair<std::string, YAML::Node>> key_map(const YAML::Node& node, const std::string& section) {
    std::vector<std::pair<std::string, YAML::Node>> out;
    if (!node || node.IsNull()) return out;
    if (!node.IsMap()) throw UserError(section + " = " + yaml_text(node) + ": expected a map from key paths to values");
    for (const auto& kv : node) {
        // yaml-cpp keeps both copies of a repeated key: the later one would
        // silently win (found by fuzz/fuzz_sweep; fuzz/regressions/sweep/).
        for (const auto& [seen, unused] : out)
            if (seen == kv.first.Scalar()) throw UserError(section + ": duplicate key '" + seen + "'");
        out.emplace_back(kv.first.Scalar(), kv.second);
    }
    return out;
}

// Applies an override, naming the sweep section it came from on error.
void apply_from(YAML::Node& tree, const std::string& section, const std::string& key, const YAML::Node& value) {
    try {
        apply_override(tree, key, value);
    } catch (const UserError& e) {
        throw UserError(section + ": " + e.what());
    }
}

std::vector<Axis> read_axes(const YAML::Node& node, const std::string& section) {
    std::vector<Axis> axes;
    for (const auto& [key, values] : key_map(node, section)) {
        const std::string where = section + "." + key;
        if (key == "run" || key == "run.seed")
            throw UserError(where + ": run.seed is derived for each run; give the base seed under set");
        if (!values.IsSequence() || values.size() == 0)
            throw UserError(where + " = " + yaml_text(values) + ": expected a non-empty list of values");
        Axis axis{key, {}};
        for (const YAML::Node& value : values) {
            YAML::Node scratch;
            apply_from(scratch, section, key, value);  // checks the key and the value's type
            axis.values.push_back(yaml_text(value));
        }
        axes.push_back(axis);
    }
    return axes;
}

void check_lists(const std::vector<Axis>& grid, const std::vector<Axis>& lists) {
    for (const Axis& a : lists) {
        if (a.values.size() != lists.front().values.size())
            throw UserError("lists." + a.key + " has " + std::to_string(a.values.size()) + " values but lists." +
                            lists.front().key + " has " + std::to_string(lists.front().values.size()) +
                            " (lists are zipped: all need the same length)");
        for (const Axis& g : grid)
            if (g.key == a.key) throw UserError("lists." + a.key + ": already varied under grid");
    }
}

int64_t count_points(const std::vector<Axis>& grid, const std::vector<Axis>& lists, int trials) {
    int64_t count = lists.empty() ? 1 : int64_t(lists.front().values.size());
    for (const Axis& a : grid) {
        if (count > kMaxRuns / int64_t(a.values.size())) count = kMaxRuns + 1;
        else count *= int64_t(a.values.size());
    }
    if (count > kMaxRuns / trials) throw UserError("more than " + std::to_string(kMaxRuns) + " runs: split the sweep");
    return count;
}

// Point p: grid digits with the last key fastest, then the zipped lists,
// which vary fastest of all.
std::vector<SweepPoint> expand(const std::vector<Axis>& grid, const std::vector<Axis>& lists, int64_t count) {
    const int64_t zipped = lists.empty() ? 1 : int64_t(lists.front().values.size());
    std::vector<SweepPoint> points(count);
    for (int64_t p = 0; p < count; ++p) {
        KeyValues& values = points[p].values;
        int64_t rest = p / zipped;
        for (size_t g = grid.size(); g-- > 0;) {
            const int64_t n = int64_t(grid[g].values.size());
            values.emplace_back(grid[g].key, grid[g].values[rest % n]);
            rest /= n;
        }
        std::reverse(values.begin(), values.end());
        for (const Axis& a : lists) values.emplace_back(a.key, a.values[p % zipped]);
    }
    return points;
}

std::string describe(int64_t index, const KeyValues& values) {
    std::string out = "run " + std::to_string(index) + " (";
    for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + values[i].first + "=" + values[i].second;
    return out + ")";
}

SimConfig point_config(const YAML::Node& base, const SweepPoint& point, int64_t first_run, const std::string& base_path) {
    YAML::Node tree = YAML::Clone(base);
    try {
        for (const auto& [key, text] : point.values) apply_override(tree, key, YAML::Load(text));
        return config_from_node(tree, base_path);
    } catch (const UserError& e) {
        throw UserError(describe(first_run, point.values) + ": " + e.what());
    }
}

std::string resolved_text(const YAML::Node& root, const std::string& base_path, const YAML::Node& set, int trials) {
    YAML::Emitter out;
    out << YAML::BeginMap << YAML::Key << "base" << YAML::Value << base_path;
    if (set.size() > 0) out << YAML::Key << "set" << YAML::Value << set;
    for (const char* key : {"grid", "lists"})
        if (root[key] && !root[key].IsNull()) out << YAML::Key << key << YAML::Value << root[key];
    out << YAML::Key << "trials" << YAML::Value << trials << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

SweepSpec build_sweep(const YAML::Node& root, const std::string& path, const std::vector<std::string>& extra_sets) {
    if (!root.IsMap())
        throw UserError(path + ": " + (!root || root.IsNull() ? std::string("the sweep file is empty; ") : std::string()) +
                        "expected a map with keys base, set, grid, lists, trials");
    check_sweep_keys(root);
    SweepSpec spec;
    spec.base_path = find_base(root["base"], path);
    const int trials = read_trials(root["trials"]);
    YAML::Node base = load_yaml(read_text_file(spec.base_path, "config file"), spec.base_path);
    require_keys(base, spec.base_path);
    const std::vector<Axis> grid = read_axes(root["grid"], "grid"), lists = read_axes(root["lists"], "lists");
    check_lists(grid, lists);
    // A key the grid or the lists vary cannot also be set: the swept values
    // would silently win over it.
    auto refuse_swept = [&](const std::string& key, const std::string& where) {
        for (const auto* axes : {&grid, &lists})
            for (const Axis& a : *axes)
                if (a.key == key)
                    throw UserError(where + ": " + key + " is swept by `" + (axes == &grid ? "grid" : "lists") +
                                    "`; change its values there, or remove it from the sweep");
    };
    YAML::Node set(YAML::NodeType::Map);  // file's set, then the extra sets, for the resolved text
    for (const auto& [key, value] : key_map(root["set"], "set")) {
        refuse_swept(key, "set");
        apply_from(base, "set", key, value);
        set[key] = value;
    }
    for (const std::string& s : extra_sets) {
        const auto [key, value] = parse_override(s);
        refuse_swept(key, "--set " + s);
        apply_from(base, "--set " + s, key, value);
        set[key] = value;
    }
    for (const auto* axes : {&grid, &lists})
        for (const Axis& a : *axes) spec.keys.push_back(a.key);

    const std::vector<SweepPoint> points = expand(grid, lists, count_points(grid, lists, trials));
    for (int64_t p = 0; p < int64_t(points.size()); ++p) {
        SimConfig config = point_config(base, points[p], p * trials, spec.base_path);
        spec.base_seed = config.run.seed;  // the same for every point: run.seed cannot be varied
        for (int t = 0; t < trials; ++t) {
            const int64_t index = p * trials + t;
            config.run.seed = derive_run_seed(spec.base_seed, index);
            spec.runs.push_back({index, p, t, config.run.seed, points[p].values, config});
        }
    }
    spec.text = resolved_text(root, spec.base_path, set, trials);
    return spec;
}

}  // namespace

uint64_t derive_run_seed(uint64_t base_seed, int64_t run_index) {
    uint64_t z = base_seed + (uint64_t(run_index) + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

SweepSpec load_sweep(const std::string& path, const std::vector<std::string>& extra_sets) {
    const YAML::Node root = load_yaml(read_text_file(path, "sweep file"), path);
    try {
        return build_sweep(root, path, extra_sets);
    } catch (const UserError& e) {
        throw UserError(path + ": " + e.what());
    }
}

}  // namespace dynshare
