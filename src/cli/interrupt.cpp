#include "cli/interrupt.hpp"

#include <atomic>
#include <csignal>

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

}  // namespace dynshare::cli
