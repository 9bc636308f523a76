// SPDX-License-Identifier: BSD-3-Clause
// Stacked plans: the geometry of a chain of 2D LC layers, the module
// structure of each layer, and the periodicity rules (include/dynshare/plan.hpp).
#include "core/stack_plan.hpp"

#include <algorithm>
#include <string>

#include "dynshare/errors.hpp"

namespace dynshare {

namespace {

std::string layer_key(size_t l) { return "stack.layers[" + std::to_string(l) + "]"; }

}  // namespace

int first_pattern_period(int q, int k) {
    const int lo = std::min(k, q);
    for (int d = std::max(1, lo); d <= q; ++d)
        if (q % d == 0) return d;
    return q;
}

// Module structure of one layer: sorted order, offsets, cell -> module map,
// SNR rows (non-border neurons of modules with at least two of them).
void build_lc_modules(LayerPlan& pl) {
    const LcGeometry& g = pl.g;
    const int p = pl.period, ho = g.h_out(), wo = g.w_out();
    pl.neurons = g.neurons();
    pl.fan_in = g.fan_in();
    pl.order.clear();
    pl.order.reserve(static_cast<size_t>(g.neurons()));
    pl.module_offsets.assign(1, 0);
    pl.module_of_cell.assign(static_cast<size_t>(g.c_out) * p * p, -1);
    pl.snr_rows.clear();
    pl.snr_offsets.assign(1, 0);
    for (int c = 0; c < g.c_out; ++c)
        for (int a = 0; a < p; ++a)
            for (int b = 0; b < p; ++b) {
                const int64_t start = static_cast<int64_t>(pl.order.size());
                for (int y = a; y < ho; y += p)
                    for (int x = b; x < wo; x += p) pl.order.push_back(g.neuron(c, y, x));
                const int64_t end = static_cast<int64_t>(pl.order.size());
                if (end == start) continue;  // p larger than the output: no such module
                pl.module_of_cell[(static_cast<size_t>(c) * p + a) * p + b] = pl.modules();
                pl.module_offsets.push_back(end);
                int64_t inner = 0;
                for (int64_t s = start; s < end; ++s) {
                    const int64_t rem = pl.order[s] % (int64_t(ho) * wo);
                    if (!g.is_border(static_cast<int>(rem / wo), static_cast<int>(rem % wo))) {
                        pl.snr_rows.push_back(s);
                        ++inner;
                    }
                }
                if (inner >= 2) pl.snr_offsets.push_back(static_cast<int64_t>(pl.snr_rows.size()));
                else pl.snr_rows.resize(pl.snr_rows.size() - inner);  // SNR needs >= 2 neurons
            }
}


int module_period(const StackParams& stack, const LcGeometry& g) {
    switch (stack.connectivity) {
        case Connectivity::grid: return g.k;
        case Connectivity::period: return stack.period;
        case Connectivity::full: return 1;
    }
    return g.k;
}

std::vector<LcGeometry> make_stack_geometry(const StackParams& stack) {
    if (stack.layers.empty()) throw UserError("stack.layers = []: needs at least one layer");
    std::vector<LcGeometry> out;
    int c = stack.input.channels, h = stack.input.height, w = stack.input.width;
    if (c < 1 || h < 1 || w < 1)
        throw UserError("stack.input: channels, height and width must be >= 1 (got " + std::to_string(c) + ", " +
                        std::to_string(h) + ", " + std::to_string(w) + ")");
    for (size_t l = 0; l < stack.layers.size(); ++l) {
        const StackLayer& s = stack.layers[l];
        LcGeometry g;
        g.c_in = c;
        g.h_in = h;
        g.w_in = w;
        g.c_out = s.channels;
        g.k = s.kernel;
        g.stride = s.stride;
        g.padding = s.padding;
        if (s.channels < 1 || s.kernel < 1 || s.stride < 1 || s.padding < 0)
            throw UserError(layer_key(l) + ": channels, kernel and stride must be >= 1 and padding >= 0");
        const int64_t ph = int64_t(h) + 2 * int64_t(s.padding), pw = int64_t(w) + 2 * int64_t(s.padding);
        if (s.kernel > ph || s.kernel > pw)
            throw UserError(layer_key(l) + ".kernel = " + std::to_string(s.kernel) +
                            ": larger than the layer's padded input " + std::to_string(ph) + "x" + std::to_string(pw));
        out.push_back(g);
        c = g.c_out;
        h = g.h_out();
        w = g.w_out();
    }
    return out;
}

RunPlan make_stack_plan(const StackParams& stack, const std::vector<LcGeometry>& geometry) {
    if (geometry.empty()) throw UserError("stack: needs at least one layer");
    if (geometry.size() > 255) throw UserError("stack.layers: at most 255 layers (got " + std::to_string(geometry.size()) + ")");
    RunPlan plan;
    plan.kind = PlanKind::stack;
    plan.schedule = stack.schedule;
    plan.normalize = stack.normalize;
    plan.drive = stack.drive;
    plan.periodic_border = stack.border == BorderInput::periodic;
    for (size_t l = 0; l < geometry.size(); ++l) {
        const LcGeometry& g = geometry[l];
        if (g.c_in < 1 || g.h_in < 1 || g.w_in < 1 || g.c_out < 1 || g.k < 1 || g.stride < 1 || g.padding < 0 ||
            g.k > g.h_in + 2 * g.padding || g.k > g.w_in + 2 * g.padding)
            throw UserError("layer " + std::to_string(l) + ": invalid LC geometry (kernel " + std::to_string(g.k) +
                            " on a padded input " + std::to_string(g.h_in + 2 * g.padding) + "x" +
                            std::to_string(g.w_in + 2 * g.padding) + ")");
        if (l > 0) {
            const LcGeometry& q = geometry[l - 1];
            if (g.c_in != q.c_out || g.h_in != q.h_out() || g.w_in != q.w_out())
                throw UserError("layer " + std::to_string(l) + ": input " + std::to_string(g.c_in) + "x" +
                                std::to_string(g.h_in) + "x" + std::to_string(g.w_in) + " does not match layer " +
                                std::to_string(l - 1) + "'s output " + std::to_string(q.c_out) + "x" +
                                std::to_string(q.h_out()) + "x" + std::to_string(q.w_out()));
        }
        if (g.neurons() >= (int64_t(1) << 24))
            throw UserError(layer_key(l) + ": at most 2^24 output neurons per layer (got " +
                            std::to_string(g.neurons()) + ")");
        LayerPlan pl;
        pl.g = g;
        pl.period = module_period(stack, g);
        pl.phi = l < stack.layers.size() ? stack.layers[l].nonlinearity : Nonlinearity::relu;
        if (l == 0) {
            plan.pattern_period = first_pattern_period(pl.period * g.stride, g.k);
            pl.in_period = plan.pattern_period;
        } else {
            pl.in_period = plan.layers[l - 1].period;
        }
        const int64_t spacing = int64_t(pl.period) * g.stride;
        if (spacing % pl.in_period != 0) {
            const std::string conn = stack.connectivity == Connectivity::grid   ? "grid: the kernel"
                                     : stack.connectivity == Connectivity::full ? "full: 1"
                                                                                : "period:" + std::to_string(stack.period);
            throw UserError(layer_key(l) + ".stride = " + std::to_string(g.stride) + ": the members of a module (period " +
                            std::to_string(pl.period) + ", connectivity " + conn + ") are period * stride = " +
                            std::to_string(spacing) + " input pixels apart, which must be a multiple of the period " +
                            std::to_string(pl.in_period) + " of the layer's input pattern (layer " +
                            std::to_string(l - 1) + "'s module period) so that they see the same input; "
                            "use equal kernels (grid) or a stride that makes period * stride a multiple of " +
                            std::to_string(pl.in_period));
        }
        if (plan.periodic_border && (g.h_in < pl.in_period || g.w_in < pl.in_period))
            throw UserError(layer_key(l) + ": stack.border = periodic needs the layer's input (" + std::to_string(g.h_in) +
                            "x" + std::to_string(g.w_in) + ") to be at least one pattern period (" +
                            std::to_string(pl.in_period) + ") high and wide; use stack.border zero");
        build_lc_modules(pl);
        plan.layers.push_back(std::move(pl));
    }
    return plan;
}

}  // namespace dynshare
