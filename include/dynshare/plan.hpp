// SPDX-License-Identifier: BSD-3-Clause
// A run is a plan of one or more layers: a single layer (Fig. 4) is a plan of
// one layer with one module; stacked 2D LC layers (Section 4.1) are a plan of
// several, with grid modules and propagated patterns. The one engine
// (include/dynshare/engine.hpp) runs any plan; what differs between plans is
// only where each layer's inputs come from.
//
// Stacked plans. Layer l has a module period p_l (grid: its kernel k;
// period:<P>: P; full: 1). Output neuron (c, y, x) belongs to module
// (c, y mod p, x mod p) (full: one module per channel). Empty modules (p
// larger than the output) are dropped. Border neurons are module members
// (they have lateral connections) but are left out of the SNR metrics.
//
// Patterns and periods. Each presentation the first layer's input is a random
// patch of shape (c_in, P0, P0) tiled over the H x W input (as from LGN). The
// pattern passed on by layer l is phi(module mean of z), z_i = w_i . x_i at
// the presentation start, laid out as (c_out, h_out, w_out): it repeats with
// period p_l by construction, so layer l+1's input period is p_l. The members
// of a module of layer l are p_l positions apart, i.e. p_l * s_l input pixels
// apart, so (away from the padding) they all see the same input exactly when
//     in_period(l) divides p_l * s_l.
// That is the condition checked for every layer (UserError naming
// stack.layers[l].stride otherwise). P0 is the smallest divisor of p_0 * s_0
// that is >= min(k_0, p_0 * s_0): the first layer's modules see identical
// inputs and, where possible, a receptive field covers P0 >= k distinct patch
// values, i.e. spans all c_in k^2 input directions (grid with stride 1: P0 = k).
//
// Border inputs. With stack.border = periodic a receptive field that reaches
// into the padding reads the pattern's periodic continuation there, so all
// members of a module see identical inputs; it needs every layer's input to
// be at least one period high and wide.
#pragma once
#include <cstdint>
#include <vector>

#include "dynshare/config.hpp"
#include "dynshare/lc_geometry.hpp"

namespace dynshare {

enum class PlanKind { single_layer, stack };

struct LayerPlan {
    int64_t neurons = 0;                  // n
    int64_t fan_in = 0;                   // inputs per neuron (k^2 for a single layer, c_in k^2 for LC)
    // Neurons are integrated module by module: position s of the layer's
    // block is output neuron order[s] (empty: the identity).
    std::vector<int64_t> order;
    std::vector<int64_t> module_offsets;  // modules of the block order, size modules + 1
    // SNR rows: block positions of the non-border neurons, module by module,
    // only modules with >= 2 of them; snr_offsets delimits the modules.
    std::vector<int64_t> snr_rows, snr_offsets;
    // Stacked LC layers only.
    LcGeometry g;
    int period = 1;                       // module period p (1: full, one module per channel)
    int in_period = 1;                    // period of the layer's input pattern
    Nonlinearity phi = Nonlinearity::relu;
    std::vector<int64_t> module_of_cell;  // (c * p + y mod p) * p + x mod p -> module (-1: empty)

    int64_t modules() const { return static_cast<int64_t>(module_offsets.size()) - 1; }
    int64_t weight_count() const { return neurons * fan_in; }
};

struct RunPlan {
    PlanKind kind = PlanKind::single_layer;
    std::vector<LayerPlan> layers;
    // Stacked plans only (see above).
    int pattern_period = 1;        // P0
    bool normalize = true;         // stack.normalize
    double drive = 0.0;            // stack.drive
    bool periodic_border = false;  // stack.border = periodic
    LayerSchedule schedule = LayerSchedule::simultaneous;

    int num_layers() const { return static_cast<int>(layers.size()); }
};

// The plan of a validated config: one layer, or cfg.stack. Throws UserError
// when a stack's geometry does not chain or its modules cannot see identical
// inputs.
RunPlan make_plan(const SimConfig& cfg);
RunPlan make_single_layer_plan(const SimConfig& cfg);

// Stacked plans, step by step (the trainer and --weights need the geometry first).
int module_period(const StackParams& stack, const LcGeometry& g);
std::vector<LcGeometry> make_stack_geometry(const StackParams& stack);
RunPlan make_stack_plan(const StackParams& stack, const std::vector<LcGeometry>& geometry);

}  // namespace dynshare
