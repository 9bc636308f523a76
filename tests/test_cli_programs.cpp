// SPDX-License-Identifier: BSD-3-Clause
// The two programs: dynshare (simulate, sweep, merge, bench; no LibTorch) and
// dynshare-train beside it, which `dynshare train` runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "test_helpers.hpp"

using namespace dynshare;

namespace {

using Out = CommandOutput;

Out run(const std::string& command) { return run_command(command, true); }

}  // namespace

TEST(Programs, DynshareLinksNoLibTorch) {
    const Out ldd = run("ldd " + std::string(DYNSHARE_CLI));
    if (ldd.status != 0) GTEST_SKIP() << "ldd unavailable: " << ldd.text;
    EXPECT_EQ(ldd.text.find("torch"), std::string::npos) << ldd.text;
    EXPECT_EQ(ldd.text.find("libc10"), std::string::npos) << ldd.text;
}

// Without dynshare-train next to it, `dynshare train` names the file it looked for.
TEST(Programs, TrainWithoutTheTrainerProgramNamesTheFile) {
    TempDir dir;
    const std::string copy = dir.file("dynshare");
    std::filesystem::copy_file(DYNSHARE_CLI, copy);
    std::filesystem::permissions(copy, std::filesystem::perms::owner_all);
    const Out r = run(copy + " train experiments/train_fmnist_quick.yaml -o " + dir.file("run"));
    EXPECT_EQ(r.status, 2) << r.text;
    EXPECT_EQ(std::count(r.text.begin(), r.text.end(), '\n'), 1) << r.text;
    EXPECT_EQ(r.text.rfind("dynshare train: error: ", 0), 0u) << r.text;
    EXPECT_NE(r.text.find(dir.file("dynshare-train")), std::string::npos) << r.text;
    EXPECT_FALSE(std::filesystem::exists(dir.file("run")));
}

// With it, the arguments pass through and its exit status is returned.
TEST(Programs, TrainRunsTheTrainerProgramBesideTheBinary) {
    const std::filesystem::path trainer = std::filesystem::path(DYNSHARE_CLI).parent_path() / "dynshare-train";
    if (!std::filesystem::exists(trainer)) GTEST_SKIP() << "built without the trainer (no " << trainer << ")";
    const Out help = run(std::string(DYNSHARE_CLI) + " train --help");
    EXPECT_EQ(help.status, 0) << help.text;
    EXPECT_NE(help.text.find("usage: dynshare train CONFIG"), std::string::npos) << help.text;
    const Out bad = run(std::string(DYNSHARE_CLI) + " train --no-such-option");
    EXPECT_EQ(bad.status, 2) << bad.text;
    EXPECT_EQ(bad.text.rfind("dynshare train: error: ", 0), 0u) << bad.text;
}
