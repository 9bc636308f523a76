// SPDX-License-Identifier: BSD-3-Clause
// The training loop: AdamW with step decay, sharing phases every
// sharing.every iterations, per-epoch evaluation, metrics.h5 and checkpoints.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>

#include "trainer/checkpoint.hpp"
#include "trainer/networks.hpp"
#include "trainer/train_config.hpp"

namespace dynshare::trainer {

class Communicator;  // trainer/distributed.hpp

struct RunOptions {
    std::string run_dir;
    bool resume = false;     // continue from RUN_DIR/checkpoint.pt
    bool overwrite = false;  // allow replacing an existing run
    int64_t stop_at_iteration = -1;  // tests: act as if a signal came before this iteration
    // Data-parallel runs: the process group (null: one process). Every rank
    // runs run_training; rank 0 alone creates RUN_DIR and writes to it.
    Communicator* comm = nullptr;
};

// Removes RUN_DIR/.lock and releases it, when this process holds it (a run
// refused after it created RUN_DIR leaves no folder behind).
void release_run_dir_lock(const std::string& run_dir);
// True when another process holds RUN_DIR/.lock (a trainer writing RUN_DIR).
bool run_dir_in_use(const std::string& run_dir);
// Removes the staging folders that killed --overwrite runs left beside
// RUN_DIR (`.NAME.new-PID`, see trainer.cpp), when RUN_DIR's lock is free;
// called by every trainer before its checks, so that a refused one cleans up too.
void remove_stale_staging_of(const std::string& run_dir);

// Runs (or resumes) training; returns the final state. UserError for the
// user's mistakes (missing data, bad shapes, no CUDA, existing run dir).
// SIGINT or SIGTERM during the run stops it before the next iteration: a
// checkpoint of that point is written (resumable bit-identically), the way to
// resume is printed on stderr, and the state has interrupted = true (the
// command exits 130). A second signal ends the process at once.
TrainState run_training(const RunConfig& cfg, const RunOptions& options);

// train.bn_update's re-estimation, as SWA's bn_update: every BatchNorm2d's
// running statistics are reset and replaced by their cumulative average
// (momentum None) over `batches` train-mode forward passes, without
// gradients, of the inputs next_batch() returns; momentum and the
// train/eval mode are restored afterwards.
void reestimate_bn(Net& net, int batches, const std::function<torch::Tensor()>& next_batch);

}  // namespace dynshare::trainer
