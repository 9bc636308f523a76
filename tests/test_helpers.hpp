// SPDX-License-Identifier: BSD-3-Clause
// Small helpers shared by the tests.
#pragma once
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

}  // namespace dynshare
