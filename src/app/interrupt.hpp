// SPDX-License-Identifier: BSD-3-Clause
// Ctrl-C / SIGTERM in both programs: the first one asks the work to stop at
// its next safe point (a presentation boundary, a training iteration; the
// output stays valid and resumable) and the program exits with
// kInterruptedExit; a second one kills (the default action).
#pragma once

namespace dynshare::app {

// The exit status of a run stopped by SIGINT / SIGTERM (128 + SIGINT, as a shell reports it).
inline constexpr int kInterruptedExit = 130;

// For the rest of the process (dynshare simulate, sweep, merge: from their
// first instruction).
void install_interrupt_handlers();
// A first signal came (since install_interrupt_handlers, or since the
// innermost live StopSignals was made).
bool interrupted();

// While alive (dynshare-train's training loop): the handlers above, counting
// signals from zero; the previous handlers come back when it ends, so a
// signal before or after training keeps its default action.
class StopSignals {
public:
    StopSignals();
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

private:
    void (*old_int_)(int);
    void (*old_term_)(int);
};

}  // namespace dynshare::app
