// SPDX-License-Identifier: BSD-3-Clause
// One layer of N neurons with k^2 inputs each, all in one module (Fig. 4):
// the one-layer plan of the engine (include/dynshare/engine.hpp).
#pragma once
#include "dynshare/config.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/run_observer.hpp"

namespace dynshare {

// Runs cfg (single layer, cfg.stack.enabled == false) on the CPU engine from
// the start, or from `resume` when given. The result is bit-identical either way.
RunResult run_single_layer(const SimConfig& cfg, RunObserver& observer, const RunState* resume = nullptr);

}  // namespace dynshare
