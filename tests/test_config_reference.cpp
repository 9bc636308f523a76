// SPDX-License-Identifier: BSD-3-Clause
// The config reference (dynshare config --reference) against the code: every
// key of both schemas has a meaning in the one table (io/key_descriptions.cpp),
// every entry of the table names a key, and every stated range is the one
// the validation enforces (a value just outside it is refused naming the key;
// the default lies inside it). The CLI's bad input follows the usual rules.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "dynshare/errors.hpp"
#include "io/config_reference.hpp"
#include "io/config_yaml.hpp"
#include "io/key_descriptions.hpp"
#include "test_helpers.hpp"
#include "trainer/train_config.hpp"

using namespace dynshare;

namespace {

const char* kStack =
    "stack:\n  input: {channels: 2, height: 8, width: 8}\n  layers: [{channels: 2, kernel: 3, stride: 1, padding: 1}]\n";

bool is_trainer_key(const std::string& path) {
    for (const char* s : {"network.", "data.", "sharing.", "train.", "sleep."})
        if (path.rfind(s, 0) == 0) return true;
    return false;
}

// Parses a config that sets `path` to `value` (YAML text) with the program
// the key belongs to; returns the error message, or "" when accepted.
std::string try_value(const std::string& path, const std::string& value) {
    try {
        if (is_trainer_key(path)) {
            trainer::parse_run_config("", {{path, value}});
        } else if (path.rfind("stack.layers[].", 0) == 0) {
            const std::string key = path.substr(std::string("stack.layers[].").size());
            parse_config("stack:\n  input: {channels: 2, height: 8, width: 8}\n  layers: [{" + key + ": " + value + "}]\n",
                         {}, "test");
        } else {
            parse_config(path.rfind("stack.", 0) == 0 ? kStack : "", {path + "=" + value}, "test");
        }
    } catch (const UserError& e) {
        return std::string("refused: ") + e.what();
    }
    return "";
}

std::string number_text(double x, bool integer) {
    if (integer) return std::to_string(static_cast<long long>(std::llround(x)));
    std::ostringstream s;
    s.precision(17);
    s << x;
    return s.str();
}

// The error must name the key (sleep.X keys are reported as "sleep: X = ...").
std::string named_key(const std::string& path) {
    std::string p = path.rfind("sleep.", 0) == 0 ? path.substr(6) : path;
    const size_t list = p.find("[]");
    return list == std::string::npos ? p : p.substr(list + 3);
}

std::vector<schema::KeyDoc> all_keys() {
    auto keys = describe_sim_config();
    for (const auto& k : trainer::describe_run_config()) keys.push_back(k);
    return keys;
}

}  // namespace

TEST(ConfigReference, EveryKeyHasADescription) {
    std::vector<std::string> missing;
    for (const auto& k : all_keys())
        if (!key_text(k.path)) missing.push_back(k.path);
    EXPECT_TRUE(missing.empty()) << "keys without a line in src/io/key_descriptions.cpp: " << testing::PrintToString(missing);
    EXPECT_GT(all_keys().size(), 80u);  // both programs' keys, list items included
}

TEST(ConfigReference, EveryDescriptionNamesAKey) {
    std::set<std::string> paths;
    for (const auto& k : all_keys()) paths.insert(k.path);
    for (const KeyText& t : key_texts()) EXPECT_TRUE(paths.count(t.path)) << t.path << " is in no schema";
}

TEST(ConfigReference, StatedRangesAreTheValidations) {
    int checked = 0;
    for (const auto& k : all_keys()) {
        const KeyText* t = key_text(k.path);
        if (!t || !*t->range) continue;
        const std::string range = t->range, key = named_key(k.path);
        SCOPED_TRACE(k.path + " (" + range + ")");
        if (range.rfind("one of ", 0) == 0) {
            std::istringstream items(range.substr(7));
            std::string item;
            while (std::getline(items, item, ',')) {
                item.erase(0, item.find_first_not_of(' '));
                EXPECT_EQ(try_value(k.path, item), "") << item;
            }
            const std::string bad = try_value(k.path, "no_such_value");
            EXPECT_NE(bad.find(key), std::string::npos) << bad;
            ++checked;
            continue;
        }
        const bool integer = k.type == "integer" || k.type == "unsigned integer";
        ASSERT_TRUE(integer || k.type == "number") << k.type;
        const double def = std::stod(k.default_value);
        auto below = [&](double a) { return integer ? a - 1 : a - std::max(1e-9, std::abs(a) * 1e-9); };
        auto above = [&](double b) { return integer ? b + 1 : b + std::max(1e-9, std::abs(b) * 1e-9); };
        std::vector<double> outside;
        double lo = -INFINITY, hi = INFINITY;
        bool lo_open = false, hi_open = false;
        if (range.rfind(">= ", 0) == 0) {
            lo = std::stod(range.substr(3));
            outside = {below(lo)};
        } else if (range.rfind("> ", 0) == 0) {
            lo = std::stod(range.substr(2));
            lo_open = true;
            outside = {lo};
        } else if (range[0] == '[') {
            const size_t comma = range.find(',');
            lo = std::stod(range.substr(1, comma - 1));
            hi = std::stod(range.substr(comma + 1));
            hi_open = range.back() == ')';
            outside = {below(lo), hi_open ? hi : above(hi)};
        } else {
            ADD_FAILURE() << "a range the test cannot read: write it as >= a, > a, [a, b], [a, b) or one of x, y";
            continue;
        }
        EXPECT_TRUE(lo_open ? def > lo : def >= lo) << "default " << k.default_value;
        EXPECT_TRUE(hi_open ? def < hi : def <= hi) << "default " << k.default_value;
        for (double v : outside) {
            const std::string msg = try_value(k.path, number_text(v, integer));
            EXPECT_NE(msg.find("refused"), std::string::npos) << number_text(v, integer) << " was accepted";
            EXPECT_NE(msg.find(key), std::string::npos) << msg;
        }
        ++checked;
    }
    EXPECT_GT(checked, 50);
}

// The generated page has one row per key, and the layout page one per line of the list.
TEST(ConfigReference, PagesListEveryKeyAndEveryLayoutPath) {
    const std::string page = config_reference_markdown(describe_sim_config(), trainer::describe_run_config());
    for (const auto& k : all_keys()) EXPECT_NE(page.find("| `" + k.path + "` |"), std::string::npos) << k.path;
    EXPECT_EQ(page.find("no description"), std::string::npos);
    std::ifstream in(std::string(DYNSHARE_SOURCE_DIR) + "/docs/hdf5_layout.txt");
    std::stringstream text;
    text << in.rdbuf();
    const std::string layout = hdf5_layout_markdown(text.str(), "docs/hdf5_layout.txt");
    std::istringstream lines(text.str());
    std::string line;
    int rows = 0;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::string kind, type, path;
        fields >> kind >> type;
        std::getline(fields, path);
        path.erase(0, path.find_first_not_of(' '));
        if (path.back() == '?') path.pop_back();
        EXPECT_NE(layout.find("| `" + path + "` |"), std::string::npos) << path;
        ++rows;
    }
    EXPECT_GT(rows, 100);
    EXPECT_THROW(hdf5_layout_markdown("single X /snr\n", "x.txt"), UserError);
}

namespace {
struct Out {
    int status = -1;
    std::string err;
};
Out run_cli(const std::string& args, const std::string& err_file) {
    const int st = std::system((std::string(DYNSHARE_CLI) + " " + args + " >/dev/null 2>" + err_file).c_str());
    Out r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    std::ifstream in(err_file);
    std::stringstream s;
    s << in.rdbuf();
    r.err = s.str();
    return r;
}
std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}
}  // namespace

TEST(ConfigReference, BadInputIsOneLineExitTwoAndNothingOverwritten) {
    TempDir dir;
    const std::string page = dir.file("ref.md"), err = dir.file("err.txt");
    std::ofstream(page) << "mine\n";
    const std::vector<std::string> bad = {"config --reference --format html -o " + page, "config --reference -o " + page,
                                          "config --reference --layout", "config",
                                          "config --layout --list " + dir.file("none.txt")};
    for (const std::string& args : bad) {
        const Out r = run_cli(args, err);
        EXPECT_EQ(r.status, 2) << args;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
        EXPECT_EQ(r.err.rfind("dynshare config: error: ", 0), 0u) << r.err;
        EXPECT_EQ(slurp(page), "mine\n") << args;
    }
    EXPECT_NE(run_cli("config --reference --format html", err).err.find("markdown"), std::string::npos);
    ASSERT_EQ(run_cli("config --reference -o " + page + " --overwrite", err).status, 0);
    EXPECT_EQ(slurp(page), config_reference_markdown(describe_sim_config(), trainer::describe_run_config()));
}
