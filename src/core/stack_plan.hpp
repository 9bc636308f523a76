// SPDX-License-Identifier: BSD-3-Clause
// The engine-internal side of stacked plans (the public side is
// include/dynshare/plan.hpp): the module structure of one LC layer.
#pragma once
#include "dynshare/plan.hpp"

namespace dynshare {

// Fills pl.neurons, fan_in, order, module_offsets, module_of_cell, snr_rows
// and snr_offsets from pl.g and pl.period.
void build_lc_modules(LayerPlan& pl);

// A layer's module period p (grid: its kernel; period:<P>: P; full: 1).
int module_period(const StackParams& stack, const LcGeometry& g);

// The first layer's input pattern period P0: the smallest divisor of
// q = p_0 s_0 that is >= min(k, q).
int first_pattern_period(int q, int k);

}  // namespace dynshare
