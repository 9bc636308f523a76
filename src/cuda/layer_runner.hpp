// SPDX-License-Identifier: BSD-3-Clause
// Single-layer plans on the device: a batch of runs of one key
// (src/cuda/batching.hpp; GroupRunner, one thread block per run), integrated
// in chunks of presentations by chunk_kernel (src/cuda/layer_kernels.cu). The
// Backend adapter (src/cuda/cuda_backend.cpp) hands batches here.
#pragma once
#include <string>
#include <vector>

#include "cuda/kernels.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/config.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/run_observer.hpp"

namespace dynshare {


// One run: its config, observer, checkpoint to resume from (or nullptr),
// initial weights (or nullptr: drawn from the seed) and where its result goes.
struct LayerJob {
    const SimConfig* cfg;
    RunObserver* observer;
    const RunState* resume;
    const std::vector<double>* initial;
    RunResult* result;
};

// Device memory of a batch of `runs` runs of cfg's shape (elem: 4 fp32, 8 fp64),
// counted by the carve that run_layer_batch allocates.
long long layer_batch_device_bytes(const SimConfig& cfg, int runs, size_t elem);

// Runs of one batch key (src/cuda/batching.hpp) as one batch, one thread block each.
void run_layer_batch(const cuda::DeviceApi& dev, const std::vector<LayerJob>& jobs, const BatchOptions& opt,
                     DevicePrecision precision);

}  // namespace dynshare
