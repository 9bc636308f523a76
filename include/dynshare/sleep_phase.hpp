// SPDX-License-Identifier: BSD-3-Clause
// The sleep phase of Section 4.1 over stacked LC layers, callable on weights
// held by someone else (the trainer, a weights file). Weights are in the
// layout of lc_geometry.hpp, one vector per layer, updated in place.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "dynshare/config.hpp"
#include "dynshare/lc_geometry.hpp"

namespace dynshare {

class Backend;
struct ResidentWeights;

struct SleepPhaseResult {
    std::vector<double> neg_log_snr_before;  // per layer, Eq. 6 over non-border neurons
    std::vector<double> neg_log_snr_after;
    double seconds = 0.0;                    // wall time of the phase
};

// The engine's parameters of a sleep phase inside training where they differ
// from the simulator's (Fig. 4B) defaults (the trainer's `sleep` section; the
// reasons are in src/backends/sleep_phase.cpp). The trainer and the Python
// package (dynshare.sleep_phase) both start from these.
SimConfig sleep_phase_defaults();

// The engine config of one sleep phase over the LC chain `geometry`: the
// `sleep` parameters (model, dynamics, plasticity, input, stack.drive/border/
// normalize/schedule), `presentations` presentations, the patterns of
// (seed, phase), and the chain's own input shape and layers (grid
// connectivity, ReLU). The one place that builds it: the trainer
// (src/trainer/sharing_simulated.cpp) and dynshare.sleep_phase call it.
SimConfig sleep_phase_config(const SimConfig& sleep, const std::vector<LcGeometry>& geometry, int64_t presentations,
                             uint64_t seed, uint64_t phase);

// The random stream of the trainer's sleep phase number `phase` (its phase
// counter) under train.seed `seed`: seed * 1000003 + phase, the key every
// sharing mode of the trainer draws from (src/trainer/sharing.cpp,
// apply_sharing), and run.stream of the simulated phase.
inline uint64_t sleep_phase_stream(uint64_t seed, uint64_t phase) { return seed * 1000003ULL + phase; }

// Geometry of every layer of cfg.stack (validated; throws UserError).
std::vector<LcGeometry> stack_geometry(const StackParams& stack);

// Runs cfg.run.presentations presentations of the sleep phase (cfg.model,
// cfg.dynamics, cfg.plasticity, cfg.input, cfg.stack) on `weights`, one
// vector per layer of size geometry[l].weight_count(). `seed_run` selects the
// random patterns (so successive phases differ). Threads: OpenMP's setting.
// Runs on `backend` (which must accept the stacked plan), or on the CPU engine.
SleepPhaseResult run_sleep_phase(const SimConfig& cfg, const std::vector<LcGeometry>& geometry,
                                 std::vector<std::vector<double>>& weights, uint64_t seed_run, Backend& backend);
SleepPhaseResult run_sleep_phase(const SimConfig& cfg, const std::vector<LcGeometry>& geometry,
                                 std::vector<std::vector<double>>& weights, uint64_t seed_run);
// The same phase on weights that live in `backend`'s memory (a CUDA device:
// backend.runs_resident(), include/dynshare/backend.hpp), updated in place
// with no copy through the host. SNR_w before and after come from the run's
// own records at its first and last step (Eq. 6 over non-border neurons, as
// lc_neg_log_snr).
SleepPhaseResult run_sleep_phase(const SimConfig& cfg, const std::vector<LcGeometry>& geometry,
                                 const ResidentWeights& weights, uint64_t seed_run, Backend& backend);

// UserError (one line) when `backend` cannot run the phase of `cfg` on
// `geometry` (Backend::check: an integrator it lacks, too little device
// memory); nothing is allocated.
void check_sleep_phase(const SimConfig& cfg, const std::vector<LcGeometry>& geometry, Backend& backend);

// Per-layer -log SNR_w (Eq. 6) of LC weights, averaged over modules and
// channels, non-border neurons only; `period` is the module period (k for grid).
double lc_neg_log_snr(const LcGeometry& g, const double* weights, int period);

}  // namespace dynshare
