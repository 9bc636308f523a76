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

// The kernel method of a stacked config (method_euler or method_exponential),
// or UserError naming the key for what the device does not run for stacks.
int stack_method_of(const SimConfig& cfg);

// Device memory a stacked run of `plan` allocates, in bytes, with neuron
// scalars of `elem` bytes (4: fp32, 8: fp64). The allocation itself adds up
// the same list (stack_runner.cpp), so the two cannot disagree.
long long stack_device_bytes(const SimConfig& cfg, const RunPlan& plan, size_t elem);

// UserError unless the device can run the stacked config: the method, then
// its memory against what the device has free (checked before anything is
// allocated): "... needs N bytes of device memory ... M bytes are available".
void stack_check(const cuda::DeviceApi& dev, const SimConfig& cfg, const RunPlan& plan, size_t elem);

// One stacked run, as run_engine reports it (records, checkpoints, progress,
// stop requests, divergence, resume), T = float or double on the device.
RunResult run_stack_on_device(const cuda::DeviceApi& dev, bool fp64, const SimConfig& cfg, const RunPlan& plan,
                              const std::vector<std::vector<double>>& initial, RunObserver& observer,
                              const RunState* resume);

// Device memory of a batch of `runs` runs of `plan` (one run: stack_device_bytes).
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
