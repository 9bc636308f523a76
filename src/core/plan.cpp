// SPDX-License-Identifier: BSD-3-Clause
// Plans from configs: a single layer is a plan of one layer and one module
// (all N neurons see the same x; every neuron counts in SNR_w).
#include "dynshare/plan.hpp"

#include <numeric>

namespace dynshare {

RunPlan make_single_layer_plan(const SimConfig& cfg) {
    RunPlan plan;
    plan.kind = PlanKind::single_layer;
    LayerPlan pl;
    pl.neurons = cfg.layer.neurons;
    pl.fan_in = int64_t(cfg.layer.kernel) * cfg.layer.kernel;
    pl.module_offsets = {0, pl.neurons};
    pl.snr_rows.resize(static_cast<size_t>(pl.neurons));
    std::iota(pl.snr_rows.begin(), pl.snr_rows.end(), int64_t{0});
    pl.snr_offsets = {0, pl.neurons};
    plan.layers.push_back(std::move(pl));
    return plan;
}

RunPlan make_plan(const SimConfig& cfg) {
    if (!cfg.stack.enabled) return make_single_layer_plan(cfg);
    return make_stack_plan(cfg.stack, make_stack_geometry(cfg.stack));
}

}  // namespace dynshare
