// SPDX-License-Identifier: BSD-3-Clause
// A sweep file (`dynshare sweep SWEEP.yaml`) expanded into fully resolved,
// validated run configs:
//
//   base: experiments/fig4b.yaml   # relative to the sweep file's directory first, then the current one
//   set:  {run.presentations: 2000}                       # overrides for every run
//   grid: {dynamics.alpha: [3, 10], plasticity.gamma: [0.1, 0.01]}  # Cartesian product, first key slowest
//   lists: {layer.kernel: [3, 6], layer.init_std: [0.5, 1.0]}     # zipped (equal lengths), crossed with grid
//   trials: 10                                            # runs per point, differing only in run.seed
//
// Run `index` = point * trials + trial. Its config is: base file, then `set`,
// then the command line's extra sets, then the point's values, then
// run.seed = derive_run_seed(base seed, index), so
//   dynshare simulate BASE --set <set...> --set <values...> --set run.seed=<seed>
// reproduces it.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dynshare/config.hpp"

namespace dynshare {

using KeyValues = std::vector<std::pair<std::string, std::string>>;  // key path -> value as YAML text

struct SweepPoint {
    KeyValues values;  // one per grid key, then one per lists key
};

struct SweepRun {
    int64_t index;     // point * trials + trial
    int64_t point;
    int trial;
    uint64_t seed;     // = config.run.seed
    KeyValues values;  // the point's values
    SimConfig config;
};

struct SweepSpec {
    std::string base_path;          // the base config file as found
    std::string text;               // the sweep as resolved: base path as found, extra sets folded into `set`
    std::vector<std::string> keys;  // varied keys: grid keys, then lists keys
    std::vector<SweepRun> runs;
    uint64_t base_seed = 0;         // run.seed of the base config after the overrides
};

// Throws UserError (one line, starting with the sweep file's name) naming the
// offending key, or the run index and values when a combination is invalid.
SweepSpec load_sweep(const std::string& path, const std::vector<std::string>& extra_sets);

// The (run_index + 1)-th output of splitmix64 started at base_seed (Steele,
// Lea & Flood 2014): z = base_seed + (run_index + 1) * 0x9E3779B97F4A7C15,
// then the splitmix64 finaliser. Distinct run indices give distinct seeds
// (the finaliser is a bijection). Part of the file format: never change it.
uint64_t derive_run_seed(uint64_t base_seed, int64_t run_index);

}  // namespace dynshare
