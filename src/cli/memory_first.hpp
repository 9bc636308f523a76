// SPDX-License-Identifier: BSD-3-Clause
// The memory check of a run from its config alone, before its plan is made:
// plans hold per-neuron tables (a single layer one row index per neuron, a
// stack its module order, SNR rows and a cell -> module map per layer), so
// `layer.neurons = 2000000000` or a stack layer of 10^7 channels would
// allocate (and page in) gigabytes just to be refused afterwards. Every plan
// kind goes through here: simulate (new and --resume), sweep, the Python API.
#pragma once
#include <string>

#include "dynshare/config.hpp"

namespace dynshare::cli {

struct MemoryBound {
    long long bytes = 0;  // the run (run_memory_bytes) and its plan's tables, saturating at 9e18
    std::string key;      // the config keys that size it, e.g. "layer.neurons = 100, layer.kernel = 9"
};

// The bound of a validated config, computed without allocating anything
// that grows with it (stack geometries are walked in 64 bits).
MemoryBound memory_from_config(const SimConfig& cfg);
// memory_from_config against the machine's memory; throws UserError naming
// the keys (prefixed by `prefix`, e.g. "run 3: ") and the bytes available.
void check_memory_from_config(const SimConfig& cfg, const std::string& prefix = "");

}  // namespace dynshare::cli
