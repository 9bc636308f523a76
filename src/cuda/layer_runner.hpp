// SPDX-License-Identifier: BSD-3-Clause
// Single-layer plans on the device: runs of one shape batched together
// (GroupRunner, one thread block per run), integrated in chunks of
// presentations by chunk_kernel (src/cuda/layer_kernels.cu). The Backend
// adapter (src/cuda/cuda_backend.cpp) hands runs here.
#pragma once
#include <string>
#include <vector>

#include "cuda/kernels.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/config.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/run_observer.hpp"

namespace dynshare {

// The kernel method for a single-layer config, or UserError for what the
// device does not run (stacks, too many neurons or inputs, integrators).
int layer_method_of(const SimConfig& cfg);

// One run: its config, observer, checkpoint to resume from (or nullptr),
// initial weights (or nullptr: drawn from the seed) and where its result goes.
struct LayerJob {
    const SimConfig* cfg;
    RunObserver* observer;
    const RunState* resume;
    const std::vector<double>* initial;
    RunResult* result;
};

// Runs grouped by shape, each group in slices that fit the device's free
// memory. fallback: the precision of run.precision = auto.
void run_layer_jobs(const cuda::DeviceApi& dev, const std::vector<LayerJob>& jobs, const BatchOptions& opt,
                    DevicePrecision fallback);

}  // namespace dynshare
