// SPDX-License-Identifier: BSD-3-Clause
#include "cli/memory_first.hpp"

#include <algorithm>
#include <climits>

#include "core/stack_plan.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/plan.hpp"
#include "io/output_file.hpp"

namespace dynshare::cli {

namespace {

constexpr long double kSaturated = 9e18L;

long long saturate(long double bytes) {
    return bytes >= kSaturated ? static_cast<long long>(kSaturated) : static_cast<long long>(bytes);
}

MemoryBound single_layer(const SimConfig& cfg) {
    RunPlan skeleton;  // make_single_layer_plan's sizes, without its per-neuron tables
    skeleton.kind = PlanKind::single_layer;
    LayerPlan pl;
    pl.neurons = cfg.layer.neurons;
    pl.fan_in = int64_t(cfg.layer.kernel) * cfg.layer.kernel;
    skeleton.layers.push_back(pl);
    // The plan's tables: one SNR row index per neuron, two offsets pairs.
    const long double bytes = static_cast<long double>(run_memory_bytes(cfg, skeleton)) + 8.0L * (pl.neurons + 4);
    return {saturate(bytes), "layer.neurons = " + std::to_string(cfg.layer.neurons) +
                                 ", layer.kernel = " + std::to_string(cfg.layer.kernel)};
}

// One stack layer's geometry in 64 bits (validate() has checked kernel <=
// padded input); false when a size does not fit LcGeometry's ints.
bool layer_geometry(int64_t c, int64_t h, int64_t w, const StackLayer& s, LcGeometry* g) {
    const int64_t ho = (h + 2 * int64_t(s.padding) - s.kernel) / s.stride + 1;
    const int64_t wo = (w + 2 * int64_t(s.padding) - s.kernel) / s.stride + 1;
    const int64_t big = INT_MAX / 4;  // h + 2 padding must fit an int too
    if (c > big || h > big || w > big || ho > big || wo > big || s.padding > big / 2 || s.kernel > big ||
        c * s.kernel > big || c * s.kernel * s.kernel > big)
        return false;
    *g = LcGeometry{int(c), int(h), int(w), s.channels, s.kernel, s.stride, s.padding};
    return true;
}

MemoryBound stack(const SimConfig& cfg) {
    const StackParams& st = cfg.stack;
    RunPlan skeleton;  // make_stack_plan's sizes, without its tables
    skeleton.kind = PlanKind::stack;
    skeleton.periodic_border = st.border == BorderInput::periodic;
    long double tables = 0, largest = -1;
    size_t largest_layer = 0;
    bool fits = true;
    int64_t c = st.input.channels, h = st.input.height, w = st.input.width;
    for (size_t l = 0; l < st.layers.size(); ++l) {
        const StackLayer& s = st.layers[l];
        LcGeometry g;
        long double layer_values = 0;
        if (fits && layer_geometry(c, h, w, s, &g)) {
            LayerPlan pl;
            pl.g = g;
            pl.neurons = g.neurons();
            pl.fan_in = g.fan_in();
            // The periods decide the block groups (run_memory_bytes counts them).
            pl.period = module_period(st, g);
            pl.in_period = l == 0 ? first_pattern_period(pl.period * g.stride, g.k) : skeleton.layers.back().period;
            // order (neurons), snr_rows (<= neurons), module_offsets and
            // snr_offsets (<= neurons + 1 each), module_of_cell (c_out x
            // period^2), all int64 (build_lc_modules).
            const long double p = module_period(st, g);
            const long double t = 4.0L * pl.neurons + 2 + static_cast<long double>(g.c_out) * p * p;
            tables += t;
            layer_values = static_cast<long double>(pl.neurons) * pl.fan_in + t;
            skeleton.layers.push_back(pl);
            c = g.c_out;
            h = g.h_out();
            w = g.w_out();
        } else {
            fits = false;  // sizes beyond int: more than any machine holds
            layer_values = kSaturated;
        }
        if (layer_values > largest) largest = layer_values, largest_layer = l;
    }
    const long double bytes = fits ? static_cast<long double>(run_memory_bytes(cfg, skeleton)) + 8.0L * tables
                                   : kSaturated;
    const StackLayer& s = st.layers[largest_layer];
    const std::string where = "stack.layers[" + std::to_string(largest_layer) + "]";
    return {saturate(bytes), where + " (channels = " + std::to_string(s.channels) + ", kernel = " +
                                 std::to_string(s.kernel) + ", stride = " + std::to_string(s.stride) +
                                 ", padding = " + std::to_string(s.padding) + "; stack.input " +
                                 std::to_string(st.input.channels) + "x" + std::to_string(st.input.height) + "x" +
                                 std::to_string(st.input.width) + ", " + std::to_string(st.layers.size()) +
                                 (st.layers.size() == 1 ? " layer)" : " layers)")};
}

}  // namespace

MemoryBound memory_from_config(const SimConfig& cfg) {
    return cfg.stack.enabled ? stack(cfg) : single_layer(cfg);
}

void check_memory_from_config(const SimConfig& cfg, const std::string& prefix) {
    const MemoryBound m = memory_from_config(cfg);
    check_memory(m.bytes, prefix + m.key);
}

}  // namespace dynshare::cli
