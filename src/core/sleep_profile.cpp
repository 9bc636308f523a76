// SPDX-License-Identifier: BSD-3-Clause
#include "core/sleep_profile.hpp"

#include <atomic>

namespace dynshare {

namespace {

// Nanoseconds (and bytes), so that threads add with one atomic integer add.
std::atomic<int64_t> g_ns[kSleepPhases];
std::atomic<int64_t> g_bytes{0};

}  // namespace

const char* phase_name(SleepPhase p) {
    switch (p) {
        case SleepPhase::population: return "population (pages prefaulted)";
        case SleepPhase::set_up: return "set-up (allocation, weight copies, plans)";
        case SleepPhase::patterns: return "patterns of the first layer";
        case SleepPhase::gemm: return "boundaries: GEMM tiles";
        case SleepPhase::materialise: return "boundaries: materialisation";
        case SleepPhase::boundary_waits: return "boundaries: waits";
        case SleepPhase::corrections: return "presentations: corrections, dot products";
        case SleepPhase::substeps: return "presentations: integrator sub-steps";
        case SleepPhase::folds: return "presentations: folds";
        case SleepPhase::finish: return "final weights handed back";
        case SleepPhase::count: break;
    }
    return "?";
}

void profile_add(SleepPhase p, double seconds) {
    g_ns[static_cast<int>(p)].fetch_add(static_cast<int64_t>(seconds * 1e9), std::memory_order_relaxed);
}

void profile_add_populated(double bytes) { g_bytes.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed); }

SleepProfile sleep_profile() {
    SleepProfile s;
    for (int i = 0; i < kSleepPhases; ++i) s.seconds[i] = static_cast<double>(g_ns[i].load()) * 1e-9;
    s.populated_bytes = static_cast<double>(g_bytes.load());
    return s;
}

void reset_sleep_profile() {
    for (auto& a : g_ns) a.store(0);
    g_bytes.store(0);
}

}  // namespace dynshare
