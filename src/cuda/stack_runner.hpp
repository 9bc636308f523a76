// SPDX-License-Identifier: BSD-3-Clause
// Stacked plans on the CUDA backend (src/cuda/stack_runner.cpp): the host
// loop over presentations, layers and record segments, the engine's run loop
// (src/core/engine.cpp) step for step, with every per-neuron and per-module
// computation in the kernels of src/cuda/stack_kernels.cu.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/kernels.hpp"
#include "dynshare/backend.hpp"

namespace dynshare {




// One stacked run, as run_engine reports it (records, checkpoints, progress,
// stop requests, divergence, resume), T = float or double on the device.
RunResult run_stack_on_device(const cuda::DeviceApi& dev, bool fp64, const SimConfig& cfg, const RunPlan& plan,
                              const std::vector<std::vector<double>>& initial, RunObserver& observer,
                              const RunState* resume);

// Device memory of a batch of `runs` runs of `plan` (elem: 4 fp32, 8 fp64), counted
// by the carve that the run allocates.
long long stack_batch_device_bytes(const RunPlan& plan, int runs, size_t elem);

// Runs cfgs[b] (equal batch_key, src/cuda/batching.hpp, each with `plan`'s geometry) as one
// batch: every kernel launch covers all of them, each from its own seed's
// initial weights. observers[b] gets run b's reports, as from a run of its
// own; the results are bit for bit those of run_stack_on_device per config.
// options: BatchOptions (checkpoints; final_state false: no weights back).
std::vector<RunResult> run_stack_batch_on_device(const cuda::DeviceApi& dev, bool fp64,
                                                 const std::vector<const SimConfig*>& cfgs, const RunPlan& plan,
                                                 const std::vector<RunObserver*>& observers,
                                                 const BatchOptions& options);

// The same run from weights already on the device (Backend::run_resident):
// each layer's float array is read into the run's arrays and overwritten with
// the final weights by kernels (not when the run diverged: then the weights
// stay as they were); no weight crosses to the host. The observer
// must not want states, and checkpoints are not taken (std::invalid_argument
// otherwise).
RunResult run_stack_resident(const cuda::DeviceApi& dev, bool fp64, const SimConfig& cfg, const RunPlan& plan,
                             const ResidentWeights& weights, RunObserver& observer);

}  // namespace dynshare
