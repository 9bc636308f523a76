// SPDX-License-Identifier: BSD-3-Clause
// Small helpers shared by the tests.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "dynshare/run_observer.hpp"

namespace dynshare {

// Keeps every record in memory.
struct RecordingObserver : RunObserver {
    std::vector<int64_t> steps;
    std::vector<double> times;
    std::vector<std::vector<double>> values;
    int64_t stop_after = -1;  // ask to stop once this many presentations are done
    int64_t done = 0;
    std::vector<std::vector<double>> mas;
    void on_record(int64_t step, double time, const std::vector<double>& v, const std::vector<double>& m) override {
        mas.push_back(m);
        steps.push_back(step);
        times.push_back(time);
        values.push_back(v);
    }
    void on_progress(int64_t d, int64_t) override { done = d; }
    bool stop_requested() override { return stop_after >= 0 && done >= stop_after; }
};

// A fresh empty directory under the system temp dir, removed at exit of scope.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/dynshare_test_XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

// A shell command's exit status (-1: it did not exit normally) and output.
struct CommandOutput {
    int status = -1;
    std::string text;
};

// Runs `command` through the shell (popen) and collects its stdout, and its
// stderr too when `with_stderr` (otherwise stderr is discarded).
inline CommandOutput run_command(const std::string& command, bool with_stderr) {
    CommandOutput r;
    FILE* p = popen((command + (with_stderr ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
    if (!p) return r;
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) r.text += buf;
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

}  // namespace dynshare
