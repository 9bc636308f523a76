// SPDX-License-Identifier: BSD-3-Clause
#include "cli/interrupt.hpp"

#include <atomic>
#include <csignal>
#include <string>

namespace dynshare::cli {

namespace {
std::atomic<int> g_signals{0};

extern "C" void on_signal(int sig) {
    if (g_signals.fetch_add(1) >= 1) {
        std::signal(sig, SIG_DFL);
        std::raise(sig);
    }
}
}  // namespace

void install_interrupt_handlers() {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

bool interrupted() { return g_signals.load() > 0; }

namespace {
// The earliest moment this program's code runs: the executable's constructors,
// before main and before the commands' static setup (glibc passes argc and
// argv). simulate, sweep and merge catch SIGINT/SIGTERM from here on (the
// dynamic loader's few dozen milliseconds before it remain uncovered).
__attribute__((constructor(101))) void early_handlers(int argc, char** argv) {
    if (argc < 2 || !argv || !argv[1]) return;
    const std::string cmd = argv[1];
    if (cmd == "simulate" || cmd == "sweep" || cmd == "merge") install_interrupt_handlers();
}
}  // namespace

}  // namespace dynshare::cli
