// SPDX-License-Identifier: BSD-3-Clause
// A progress bar with ETA on stderr, shown only when stderr is a terminal and
// the work has lasted more than a second.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace dynshare::cli {

class ProgressBar {
public:
    explicit ProgressBar(std::string unit);
    ~ProgressBar();
    void update(int64_t done, int64_t total);
    void finish();

private:
    std::string unit_;
    bool enabled_;
    bool shown_ = false;
    std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace dynshare::cli
