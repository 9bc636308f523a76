// SPDX-License-Identifier: BSD-3-Clause
#include "dynshare/single_layer.hpp"

#include "dynshare/plan.hpp"

namespace dynshare {

RunResult run_single_layer(const SimConfig& cfg, RunObserver& observer, const RunState* resume) {
    return run_engine(cfg, make_single_layer_plan(cfg), {}, observer, resume);
}

}  // namespace dynshare
