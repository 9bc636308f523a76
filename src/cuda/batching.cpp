// SPDX-License-Identifier: BSD-3-Clause
#include "cuda/batching.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <type_traits>

#include "core/step_params.hpp"
#include "cuda/capabilities.hpp"
#include "cuda/device_memory.hpp"
#include "cuda/layer_runner.hpp"
#include "cuda/stack_runner.hpp"

namespace dynshare {

namespace {

// Runs per batch: the single-layer kernels put runs on gridDim.x, the stacked
// ones on gridDim.y (at most 65535).
int max_runs(const RunPlan& plan) { return plan.kind == PlanKind::stack ? 65535 : 65536; }

size_t elem_of(DevicePrecision p) { return p == DevicePrecision::fp64 ? 8 : 4; }

}  // namespace

std::string batch_key(const SimConfig& cfg, const RunPlan& plan, DevicePrecision precision) {
    std::string k = precision == DevicePrecision::fp64 ? "fp64|" : "fp32|";
    auto add = [&k](auto v) {
        if constexpr (std::is_floating_point_v<decltype(v)>) {  // the exact bits
            uint64_t bits = 0;
            const double d = v;
            std::memcpy(&bits, &d, sizeof bits);
            k += std::to_string(bits) + ",";
        } else {
            k += std::to_string(v) + ",";
        }
    };
    if (plan.kind != PlanKind::stack) {
        // GroupRunner's shape (the kernels' BatchShape) and its chunks.
        k += "layer|";
        add(layer_method_of(cfg));
        add(cfg.layer.neurons);
        add(cfg.layer.kernel * cfg.layer.kernel);
        add(cfg.steps_per_presentation());
        add(cfg.run.presentations);
        add(cfg.run.record_every);
        add(cfg.run.checkpoint_every);
        add(cfg.input.noise_std > 0.0 ? 1 : 0);
        return k;
    }
    // Stacks: the plan (geometry, periods, patterns, borders, drive, schedule)
    // and the loop structure (presentations, steps, records, checkpoints,
    // method). Per-run scalars (seed, stream, tau, alpha, bias, lr, gamma,
    // mu, schedules, noise, sub-step sizes) may differ.
    const StepParams sp = StepParams::from(cfg);
    k += "stack|";
    for (const LayerPlan& pl : plan.layers) {
        const LcGeometry& g = pl.g;
        for (long long v : {(long long)pl.neurons, (long long)pl.fan_in, (long long)g.c_in, (long long)g.h_in,
                            (long long)g.w_in, (long long)g.c_out, (long long)g.k, (long long)g.stride,
                            (long long)g.padding, (long long)pl.period, (long long)pl.in_period,
                            (long long)(pl.phi == Nonlinearity::relu)})
            add(v);
        k += "|";
    }
    add(plan.pattern_period);
    add(plan.drive);
    add(plan.normalize ? 1 : 0);
    add(plan.periodic_border ? 1 : 0);
    add(static_cast<int>(plan.schedule));
    add(cfg.run.presentations);
    add(cfg.run.record_every);
    add(cfg.run.checkpoint_every);
    add(sp.steps);
    add(sp.dt);
    add(stack_method_of(cfg));
    return k;
}

long long batch_device_bytes(const SimConfig& cfg, const RunPlan& plan, int runs, DevicePrecision precision) {
    if (plan.kind == PlanKind::stack) return stack_batch_device_bytes(plan, runs, elem_of(precision));
    return layer_batch_device_bytes(cfg, runs, elem_of(precision));
}

int batch_capacity(const cuda::DeviceApi& dev, const SimConfig& cfg, const RunPlan& plan, DevicePrecision precision) {
    size_t free_b = 0, total_b = 0;
    cuda::device_check(dev.mem_info(&free_b, &total_b), "cudaMemGetInfo");
    // Half of what is free: one allocation of nearly all free memory fails on
    // a real device (granularity, fragmentation, the context's own allocations).
    const long long budget = static_cast<long long>(free_b / 2);
    auto bytes = [&](long long r) { return batch_device_bytes(cfg, plan, static_cast<int>(r), precision); };
    if (bytes(1) >= budget) return 1;
    // The largest r with bytes(r) <= budget (bytes grows with r).
    long long lo = 1, hi = max_runs(plan);
    while (lo < hi) {
        const long long mid = lo + (hi - lo + 1) / 2;
        if (bytes(mid) <= budget) lo = mid;
        else hi = mid - 1;
    }
    return static_cast<int>(lo);
}

std::vector<std::vector<size_t>> batch_slices(const cuda::DeviceApi& dev, const std::vector<SimConfig>& cfgs,
                                              const std::vector<RunPlan>& plans,
                                              const std::vector<DevicePrecision>& precisions) {
    std::map<std::string, std::vector<size_t>> groups;
    std::vector<std::string> order;
    for (size_t i = 0; i < cfgs.size(); ++i) {
        const std::string key = batch_key(cfgs[i], plans[i], precisions[i]);
        if (!groups.count(key)) order.push_back(key);
        groups[key].push_back(i);
    }
    std::vector<std::vector<size_t>> slices;
    for (const std::string& key : order) {
        const std::vector<size_t>& members = groups[key];
        const size_t first = members.front();
        const size_t cap = static_cast<size_t>(batch_capacity(dev, cfgs[first], plans[first], precisions[first]));
        for (size_t from = 0; from < members.size(); from += cap)
            slices.emplace_back(members.begin() + from, members.begin() + std::min(members.size(), from + cap));
    }
    return slices;
}

}  // namespace dynshare
