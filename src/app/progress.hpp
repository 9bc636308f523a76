// SPDX-License-Identifier: BSD-3-Clause
// The progress bar of both programs, on stderr: "[####...]  42% done/total
// UNIT  Ns elapsed, ETA Ms", after an optional label ("epoch 3 ") and before
// an optional note (" loss 0.4123"). Drawn once the work has lasted more
// than a second, at most every 0.2 s (and at the end).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace dynshare::app {

// When a bar is drawn: only when stderr is a terminal (dynshare's runs, the
// trainer's train.progress = auto), always (train.progress = always, e.g.
// into a log file), or never.
enum class ShowProgress { terminal, always, never };

// train.progress's values: auto -> terminal, always, never (the config
// checks them; anything else is never).
ShowProgress show_progress(const std::string& mode);

class ProgressBar {
public:
    explicit ProgressBar(std::string unit, ShowProgress show = ShowProgress::terminal, std::string label = "");
    ~ProgressBar();
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;
    // Whether update() may draw at all (a caller can skip formatting its note).
    bool enabled() const { return enabled_; }
    void update(int64_t done, int64_t total, const std::string& note = "");
    void finish();

private:
    std::string unit_, label_;
    bool enabled_;
    bool shown_ = false;
    std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace dynshare::app
