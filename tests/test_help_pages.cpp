// SPDX-License-Identifier: BSD-3-Clause
// Every command's --help ends with the path of its documentation page, and
// that page exists in the source tree (so the link cannot go stale).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace {

std::string help_of(const std::string& args) {
    std::string text;
    FILE* p = popen((std::string(DYNSHARE_CLI) + " " + args + " 2>/dev/null").c_str(), "r");
    if (!p) return text;
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) text += buf;
    pclose(p);
    return text;
}

std::string last_line(std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    const size_t nl = s.rfind('\n');
    return nl == std::string::npos ? s : s.substr(nl + 1);
}

}  // namespace

TEST(HelpPages, EveryCommandEndsWithItsDocumentationPage) {
    const std::filesystem::path trainer = std::filesystem::path(DYNSHARE_CLI).parent_path() / "dynshare-train";
    struct Case {
        std::string args, page;
    };
    std::vector<Case> cases = {{"--help", "docs/index.md"},
                               {"simulate --help", "docs/guide/simulate.md"},
                               {"sweep --help", "docs/guide/sweep.md"},
                               {"merge --help", "docs/guide/merge.md"},
                               {"bench --help", "docs/guide/bench.md"},
                               {"bench --sleep --help", "docs/guide/bench.md"},
                               {"config --help", "docs/reference/config.md"}};
    if (std::filesystem::exists(trainer)) cases.push_back({"train --help", "docs/guide/train.md"});
    for (const auto& c : cases) {
        const std::string line = last_line(help_of(c.args));
        EXPECT_EQ(line.rfind("Documentation: " + c.page, 0), 0u) << c.args << ": " << line;
        EXPECT_TRUE(std::filesystem::exists(std::string(DYNSHARE_SOURCE_DIR) + "/" + c.page)) << c.page;
    }
}
