// SPDX-License-Identifier: BSD-3-Clause
// Where a run's wall time goes, phase by phase, for `dynshare bench --sleep`
// (docs/sleep_speed.md): process-wide accumulators the engine and the
// blocked path add to, and the benchmark reads in its child process. Each
// phase is wall time on the thread that runs the loop; the block boundary's
// parallel region is split into its GEMM tiles, its materialisation and the
// rest (waits: threads idle at the region's barrier, unequal tasks), each in
// thread-seconds divided by the region's threads, so the phases add up to
// the run's wall time. Adding costs two clock reads per phase: the
// accumulators are always on, and never change a value of the run.
#pragma once
#include <chrono>
#include <cstdint>

namespace dynshare {

enum class SleepPhase : int {
    population,   // pages prefaulted (core/first_touch.hpp): inside set_up and finish, not added to the others
    set_up,       // the engine's set-up: allocation, copies of the weights, plans (population included)
    patterns,     // the first layer's inputs of each block (the others' are built alongside the integration)
    gemm,         // block boundaries: the GEMM tiles (drives W X, W0 X, V X, Gram; update C X^T)
    materialise,  // block boundaries: w, v from the block-start weights and C X^T; the inputs transposed
    boundary_waits,  // block boundaries: wall time neither of the above (barrier, imbalance)
    corrections,  // per presentation: the earlier presentations' corrections and the dot products
    substeps,     // per presentation: the integrator's sub-steps (with the next layer's inputs alongside)
    folds,        // per presentation: the folds of the coefficients, c and e stored
    finish,       // the final weights handed back (and any flush)
    count
};

inline constexpr int kSleepPhases = static_cast<int>(SleepPhase::count);

const char* phase_name(SleepPhase p);

// Seconds (wall-equivalent) per phase, and the bytes prefaulted.
struct SleepProfile {
    double seconds[kSleepPhases] = {};
    double populated_bytes = 0.0;
};

void profile_add(SleepPhase p, double seconds);
void profile_add_populated(double bytes);
SleepProfile sleep_profile();
void reset_sleep_profile();

// Seconds since a steady-clock point, as the phases take them.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace dynshare
