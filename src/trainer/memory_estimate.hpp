// SPDX-License-Identifier: BSD-3-Clause
// How much host memory a training run will take, from its config and the
// data files' headers, before anything is allocated or created: `train`
// refuses a run that needs more than the machine has (exit 2, naming the
// config key of the largest share and the bytes) instead of dying in
// bad_alloc or the kernel's OOM killer halfway through.
#pragma once
#include <string>

#include "trainer/datasets.hpp"
#include "trainer/train_config.hpp"

namespace dynshare::trainer {

// Peak bytes by what holds them. The counts come from the network census
// (the builder's own code, nothing allocated); the multipliers are stated in
// memory_estimate.cpp and checked against measured peak memory in
// tests/trainer/test_memory.cpp.
struct TrainMemory {
    long double process = 0;      // LibTorch and the program itself
    long double data = 0;         // the image sets while they are loaded (freed down to data_held)
    long double data_held = 0;    // the image sets during training
    long double model = 0;        // weights, gradients, AdamW's two moments, sharing copies
    long double activations = 0;  // one iteration's forward and backward (or an evaluation batch)
    long double sleep = 0;        // the sharing phase (sharing.mode simulated or hebbian)
    // Loading ends before the network is built, and a sharing phase runs
    // between iterations, after the iteration's activations are freed.
    long double total() const {
        const long double training = data_held + model + (activations > sleep ? activations : sleep);
        return process + (data > training ? data : training);
    }
    // "network.width = 4096 (...)", "train.batch_size = 512", ...: the key of
    // the largest share, with the sizes that make it large.
    std::string largest;
};

// `ranks_here`: processes of a data-parallel run on this machine (each holds
// all of it; each takes batch_size / world images per iteration).
TrainMemory estimate_train_memory(const RunConfig& cfg, const DataCensus& data, int world = 1, int ranks_here = 1);

// Throws UserError (one line: the key, the bytes needed and available) when
// the estimate exceeds the machine's available memory. On a CUDA device the
// model and activations live in device memory and are not counted here.
void check_train_memory(const RunConfig& cfg, const DataCensus& data, int world = 1, int ranks_here = 1);

}  // namespace dynshare::trainer
