// One layer of N neurons with k^2 inputs each, all in one module (Fig. 4).
#pragma once
#include <string>

#include "dynshare/config.hpp"
#include "dynshare/run_observer.hpp"

namespace dynshare {

struct SingleLayerResult {
    RunStatus status = RunStatus::complete;
    std::string message;        // why a run diverged
    LayerCheckpoint state;      // at the last presentation boundary reached
    double theory_min = 0.0;    // Eq. 5 -log SNR_w for the presentations done
    int64_t integrator_steps = 0;
};

// Runs cfg (single layer, cfg.stack.enabled == false) from the start, or from
// `resume` when given. The result is bit-identical either way.
SingleLayerResult run_single_layer(const SimConfig& cfg, RunObserver& observer,
                                   const LayerCheckpoint* resume = nullptr);

}  // namespace dynshare
