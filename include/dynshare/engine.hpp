// SPDX-License-Identifier: BSD-3-Clause
// The one engine: runs any plan (include/dynshare/plan.hpp) presentation by
// presentation, with one run loop for records, checkpoints, interrupts,
// divergence and resume. Backends (include/dynshare/backend.hpp) call it on
// the CPU; the CUDA backend runs the same model functions on the device.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "dynshare/config.hpp"
#include "dynshare/lc_geometry.hpp"
#include "dynshare/philox.hpp"
#include "dynshare/plan.hpp"
#include "dynshare/run_observer.hpp"

namespace dynshare {

struct RunResult {
    RunStatus status = RunStatus::complete;
    std::string message;             // why a run diverged
    int64_t diverged_at_step = -1;   // the step where the state or a record first became non-finite
    RunState state;                  // at the last presentation boundary reached
    int64_t integrator_steps = 0;    // summed over layers
    // Single-layer plans: -log SNR_w of the Eq. 5 fixed point with C from the
    // presentations done (NaN for stacks).
    double theory_min = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> layer_seconds;    // per layer: integration (begin .. end) and records
    // Per layer: building its inputs. With blocked presentations (block > 1)
    // layer l + 1's inputs are built during layer l's integration, so that
    // time is also inside layer_seconds[l]: do not add the two there.
    std::vector<double> pattern_seconds;
    double seconds = 0.0;
};

// Initial weights of every layer, drawn from (run.seed, run.stream): a single
// layer init_mean + init_std N(0,1) (Stream::initial_weights (i, 0)); LC
// layer l init_mean + std N(0,1), std = init_std or He sqrt(2 / fan_in) when
// init_std < 0 (Stream::initial_weights (n, l)). Layout: lc_geometry.hpp.
std::vector<std::vector<double>> initial_weights(const SimConfig& cfg, const RunPlan& plan);
std::vector<double> stack_initial_weights(const StackLayer& layer, const LcGeometry& g, int l, RngKey key);

// An upper bound on the memory a CPU run of `plan` needs (the layers' state,
// its checkpoint copies, the inputs of one presentation), in bytes.
// state_copies = false: for an observer that wants no states
// (RunObserver::wants_states), which gets no checkpoint copies and a final
// state of weights only.
long long run_memory_bytes(const SimConfig& cfg, const RunPlan& plan, bool state_copies = true);

// The arithmetic a CPU run uses: fp32 when run.precision = fp32, else fp64.
bool cpu_runs_fp32(const SimConfig& cfg);

// Runs cfg.run.presentations presentations of `plan` on the CPU, from
// `initial` (one vector per layer; empty: initial_weights(cfg, plan)) or
// from `resume`. The result is bit-identical either way, and does not depend
// on the number of OpenMP threads. Throws UserError when `initial` or
// `resume` does not fit the plan.
RunResult run_engine(const SimConfig& cfg, const RunPlan& plan, const std::vector<std::vector<double>>& initial,
                     RunObserver& observer, const RunState* resume = nullptr);

}  // namespace dynshare
