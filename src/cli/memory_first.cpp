// SPDX-License-Identifier: BSD-3-Clause
#include "cli/memory_first.hpp"

#include "dynshare/engine.hpp"
#include "dynshare/plan.hpp"
#include "io/output_file.hpp"

namespace dynshare::cli {

long long memory_before_plan(const SimConfig& cfg) {
    if (cfg.stack.enabled) return 0;
    RunPlan skeleton;  // make_single_layer_plan's sizes, without its per-neuron tables
    skeleton.kind = PlanKind::single_layer;
    LayerPlan pl;
    pl.neurons = cfg.layer.neurons;
    pl.fan_in = int64_t(cfg.layer.kernel) * cfg.layer.kernel;
    skeleton.layers.push_back(pl);
    return run_memory_bytes(cfg, skeleton);
}

void check_memory_before_plan(const SimConfig& cfg, const std::string& what) {
    if (!cfg.stack.enabled) check_memory(memory_before_plan(cfg), what);
}

}  // namespace dynshare::cli
