// SPDX-License-Identifier: BSD-3-Clause
// The memory check of a run, before its plan is made: a single layer's plan
// holds one row index per neuron, so `layer.neurons = 2000000000` would
// allocate (and page in) 16 GB just to be refused afterwards.
#pragma once
#include <string>

#include "dynshare/config.hpp"

namespace dynshare::cli {

// The run's memory bound from the config alone (single layers: the same
// run_memory_bytes, of a plan with no per-neuron tables), against the
// machine's memory; throws UserError naming `what`. Stacks are checked
// after their plan (its tables are per position, not per neuron).
void check_memory_before_plan(const SimConfig& cfg, const std::string& what);
// The same bound in bytes (0 for stacks).
long long memory_before_plan(const SimConfig& cfg);

}  // namespace dynshare::cli
