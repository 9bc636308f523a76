// SPDX-License-Identifier: BSD-3-Clause
#include "app/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace dynshare::app {

ShowProgress show_progress(const std::string& mode) {
    if (mode == "auto") return ShowProgress::terminal;
    return mode == "always" ? ShowProgress::always : ShowProgress::never;
}

ProgressBar::ProgressBar(std::string unit, ShowProgress show, std::string label)
    : unit_(std::move(unit)), label_(std::move(label)),
      enabled_(show == ShowProgress::always || (show == ShowProgress::terminal && isatty(STDERR_FILENO) != 0)),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(int64_t done, int64_t total, const std::string& note) {
    if (!enabled_ || total <= 0) return;
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    if (elapsed < 1.0 || (std::chrono::duration<double>(now - last_).count() < 0.2 && done < total)) return;
    last_ = now;
    shown_ = true;
    const double frac = static_cast<double>(done) / static_cast<double>(total);
    const int width = 30, filled = static_cast<int>(frac * width);
    const double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
    std::fprintf(stderr, "\r%s[%-*.*s] %3d%% %lld/%lld %s  %.0fs elapsed, ETA %.0fs %s", label_.c_str(), width, filled,
                 "##############################", static_cast<int>(frac * 100), static_cast<long long>(done),
                 static_cast<long long>(total), unit_.c_str(), elapsed, eta, note.c_str());
    std::fflush(stderr);
}

void ProgressBar::finish() {
    if (shown_) std::fprintf(stderr, "\n");
    shown_ = false;
}

}  // namespace dynshare::app
