// SPDX-License-Identifier: BSD-3-Clause
// The version and commit of the build (include/dynshare/version.hpp): what
// `dynshare --version` and `dynshare-train --version` print, checked against
// git itself, and the dynshare_version / dynshare_commit attributes of the
// files the commands write, checked against that printed line.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "dynshare/version.hpp"
#include "io/h5.hpp"
#include "test_helpers.hpp"

using namespace dynshare;

namespace {

using Out = CommandOutput;

Out run(const std::string& command) { return run_command(command, false); }

const std::regex kLine(R"(dynshare (\d+\.\d+\.\d+) \(commit ([0-9a-f]{7}(-dirty)?|unknown)\)\n)");

// The commit part of a --version line.
std::string printed_commit(const Out& v) {
    std::smatch m;
    if (!std::regex_match(v.text, m, kLine)) return "<no match: " + v.text + ">";
    return m[2];
}

std::string cmake_version() {
    std::ifstream in(std::string(DYNSHARE_SOURCE_DIR) + "/CMakeLists.txt");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::smatch m;
    return std::regex_search(text, m, std::regex(R"(project\(dynshare VERSION (\S+))")) ? std::string(m[1]) : "";
}

}  // namespace

TEST(Versions, VersionLineHasTheProjectVersionAndGitsCommit) {
    const Out v = run(std::string(DYNSHARE_CLI) + " --version");
    ASSERT_EQ(v.status, 0);
    std::smatch m;
    ASSERT_TRUE(std::regex_match(v.text, m, kLine)) << v.text;
    EXPECT_EQ(m[1], cmake_version());
    EXPECT_EQ(v.text, version_line() + "\n");  // the program and this test: one build
    // Independent truth: git's own short hash of HEAD (when the source is a
    // git checkout with git installed; else the build says "unknown").
    const Out head = run("git -C " + std::string(DYNSHARE_SOURCE_DIR) + " rev-parse --short=7 HEAD");
    if (head.status == 0 && head.text.size() >= 7)
        EXPECT_EQ(std::string(m[2]).substr(0, 7), head.text.substr(0, 7)) << "rebuild after a commit";
    else
        EXPECT_EQ(m[2], "unknown");
}

TEST(Versions, TrainerPrintsTheSameLine) {
    const std::filesystem::path trainer = std::filesystem::path(DYNSHARE_CLI).parent_path() / "dynshare-train";
    if (!std::filesystem::exists(trainer)) GTEST_SKIP() << "built without the trainer (no " << trainer << ")";
    const Out mine = run(std::string(DYNSHARE_CLI) + " --version");
    EXPECT_EQ(run(trainer.string() + " --version").text, mine.text);
    EXPECT_EQ(run(std::string(DYNSHARE_CLI) + " train --version").text, mine.text);
}

// simulate (single and stacked), sweep and merge: each file's root carries the
// version and the commit that --version prints; a sweep's runs carry them too.
TEST(Versions, EveryWrittenFileRecordsTheBuild) {
    const std::string cli = DYNSHARE_CLI, src = DYNSHARE_SOURCE_DIR;
    const std::string commit_line = printed_commit(run(cli + " --version"));
    ASSERT_EQ(commit_line.rfind("<no match", 0), std::string::npos) << commit_line;
    TempDir dir;
    const std::string small = " --set run.presentations=3 --set layer.neurons=10 --quiet";
    ASSERT_EQ(run(cli + " simulate " + src + "/experiments/fig4b.yaml -o " + dir.file("single.h5") + small).status, 0);
    std::ofstream(dir.file("stack.yaml"))
        << "dynamics: {integrator: exponential}\nrun: {presentations: 2, record_every: 150}\n"
           "stack:\n  input: {channels: 2, height: 8, width: 8}\n"
           "  layers: [{channels: 2, kernel: 3, stride: 1, padding: 1}]\n";
    ASSERT_EQ(run(cli + " simulate " + dir.file("stack.yaml") + " -o " + dir.file("stack.h5") + " --quiet").status, 0);
    std::ofstream(dir.file("sw.yaml")) << "base: " << src << "/experiments/fig4b.yaml\n"
                                       << "set: {run.presentations: 2, layer.neurons: 10}\n"
                                       << "grid: {layer.kernel: [3, 4]}\ntrials: 1\n";
    for (const char* shard : {"0/2", "1/2"})
        ASSERT_EQ(run(cli + " sweep " + dir.file("sw.yaml") + " -o " + dir.file(std::string("sw") + shard[0] + ".h5") +
                      " --shard " + shard + " --quiet")
                      .status,
                  0);
    ASSERT_EQ(run(cli + " merge " + dir.file("merged.h5") + " " + dir.file("sw0.h5") + " " + dir.file("sw1.h5") +
                  " --quiet")
                  .status,
              0);
    for (const std::string name : {"single.h5", "stack.h5", "sw0.h5", "merged.h5"}) {
        h5::Handle f = h5::open_file(dir.file(name), h5::Mode::read_only);
        EXPECT_EQ(h5::attr_string(f.id(), "dynshare_commit"), commit_line) << name;
        EXPECT_EQ(h5::attr_string(f.id(), "dynshare_version"), cmake_version()) << name;
    }
    h5::Handle f = h5::open_file(dir.file("merged.h5"), h5::Mode::read_only);
    h5::Handle run0 = h5::group(f.id(), "runs/0");
    EXPECT_EQ(h5::attr_string(run0.id(), "dynshare_commit"), commit_line);
}
