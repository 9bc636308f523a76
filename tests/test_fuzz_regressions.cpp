// SPDX-License-Identifier: BSD-3-Clause
// Replays every input kept in fuzz/regressions/<target>/ (findings of the
// libFuzzer targets, fixed) and the targets' seed corpora through the same
// checks the fuzz targets make (fuzz/harness.hpp): accepted, or refused with
// one UserError; accepted configs round-trip exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "../fuzz/harness.hpp"

namespace {

std::vector<std::filesystem::path> inputs(const std::string& target) {
    std::vector<std::filesystem::path> out;
    const auto dir = std::filesystem::path(DYNSHARE_SOURCE_DIR) / "fuzz" / "regressions" / target;
    if (std::filesystem::is_directory(dir))
        for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path());
    return out;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

template <class F>
void replay(const std::string& target, F check, const std::vector<std::string>& extra) {
    std::vector<std::string> all = extra;
    for (const auto& p : inputs(target)) all.push_back(slurp(p));
    for (const std::string& s : all) {
        SCOPED_TRACE(s.substr(0, 200));
        EXPECT_NO_FATAL_FAILURE(check(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
    }
}

std::vector<std::string> experiment_files(bool sweeps) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(DYNSHARE_SOURCE_DIR) / "experiments")) {
        const std::string name = e.path().filename().string();
        if (e.path().extension() != ".yaml" || (name.find("sweep") != std::string::npos) != sweeps) continue;
        out.push_back(slurp(e.path()));
    }
    return out;
}

}  // namespace

TEST(FuzzRegressions, ConfigParser) { replay("config", dynshare::fuzz::config_input, experiment_files(false)); }
TEST(FuzzRegressions, SetParsing) {
    replay("set", dynshare::fuzz::set_input, {"dynamics.alpha=30\nplasticity.gamma=0.01", "stack.layers=[{channels: 8}]"});
}
TEST(FuzzRegressions, SweepParser) {
    // The experiments' sweeps with their base pointing at the harness's base.yaml.
    std::vector<std::string> sweeps = experiment_files(true);
    for (std::string& s : sweeps) {
        const size_t at = s.find("\nbase:");
        if (at != std::string::npos) s.replace(at + 1, s.find('\n', at + 1) - at - 1, "base: base.yaml");
    }
    replay("sweep", dynshare::fuzz::sweep_input, sweeps);
}

// Finding of fuzz_sweep (fuzz/regressions/sweep/duplicate_grid_key.yaml): a
// key repeated in `grid` was kept twice by yaml-cpp, the later list silently
// winning; it is an error naming the key now.
TEST(FuzzRegressions, RepeatedGridKeyIsAnError) {
    const std::string text = "base: base.yaml\ngrid:\n  plasticity.gamma: [0.1]\n  plasticity.gamma: [0.01]\n";
    const auto dir = std::filesystem::temp_directory_path() / "dynshare_dup_grid";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "base.yaml") << "run: {presentations: 1}\n";
    std::ofstream(dir / "s.yaml") << text;
    try {
        dynshare::load_sweep((dir / "s.yaml").string(), {});
        ADD_FAILURE() << "a repeated grid key must be refused";
    } catch (const dynshare::UserError& e) {
        EXPECT_NE(std::string(e.what()).find("duplicate key 'plasticity.gamma'"), std::string::npos) << e.what();
    }
    std::filesystem::remove_all(dir);
}

// Finding of fuzz_sweep's hour-long run (fuzz/regressions/sweep/
// duplicate_top_level_key_400005_trials.yaml): `grid` twice at the top level
// (yaml-cpp kept both; the second was silently ignored) with 400,005 trials,
// which took over 30 s to expand under the fuzzer's sanitizers. A repeated
// top-level key is an error now; the fuzz build caps a sweep at 20,000 runs.
TEST(FuzzRegressions, RepeatedTopLevelSweepKeyIsAnError) {
    const auto dir = std::filesystem::temp_directory_path() / "dynshare_dup_top";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "base.yaml") << "run: {presentations: 1}\n";
    std::ofstream(dir / "s.yaml") << "base: base.yaml\ngrid: {dynamics.alpha: [1]}\ngrid: {dynamics.alpha: [2]}\n";
    try {
        dynshare::load_sweep((dir / "s.yaml").string(), {});
        ADD_FAILURE() << "a repeated top-level key must be refused";
    } catch (const dynshare::UserError& e) {
        EXPECT_NE(std::string(e.what()).find("duplicate key 'grid'"), std::string::npos) << e.what();
    }
    std::filesystem::remove_all(dir);
}
