// SPDX-License-Identifier: BSD-3-Clause
// Batches of runs on the device, one rule for every plan kind: which runs can
// share a batch (batch_key: everything the batch's one loop and its shared
// arrays take from its first run), how much device memory a batch of R runs
// takes (the runner's own carve, counted: src/cuda/device_memory.hpp) and the
// one memory budget (half of the device's free memory) that decides how many
// runs go together. The Backend adapter (src/cuda/cuda_backend.cpp) cuts a
// sweep into slices here and hands each slice to its runner.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "cuda/kernels.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/config.hpp"
#include "dynshare/plan.hpp"

namespace dynshare {

// Equal keys: the runs can be integrated as one batch (same plan kind,
// geometry, loop structure, method and device precision; per-run scalars such
// as the seed, rates and time constants may differ).
std::string batch_key(const SimConfig& cfg, const RunPlan& plan, DevicePrecision precision);

// Device memory of a batch of `runs` runs of cfg's plan, in bytes.
long long batch_device_bytes(const SimConfig& cfg, const RunPlan& plan, int runs, DevicePrecision precision);

// How many runs of cfg's plan fit the memory budget (half of the device's free
// memory) at once: at least 1 (one run that does not fit has been let through
// by Backend::check and gets what there is), at most the launch's limit.
int batch_capacity(const cuda::DeviceApi& dev, const SimConfig& cfg, const RunPlan& plan, DevicePrecision precision);

// The runs (indices into cfgs) grouped by batch_key, groups in the order of
// their first run, each group cut into slices of at most batch_capacity runs.
std::vector<std::vector<size_t>> batch_slices(const cuda::DeviceApi& dev, const std::vector<SimConfig>& cfgs,
                                              const std::vector<RunPlan>& plans,
                                              const std::vector<DevicePrecision>& precisions);

}  // namespace dynshare
