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
