// SPDX-License-Identifier: BSD-3-Clause
// Checkpoints (torch::serialize archives): model, optimiser, progress and
// the metrics so far, plus the architecture signature so that --resume
// refuses a checkpoint written by a different network.
#pragma once
#include <torch/torch.h>

#include <string>

#include "trainer/metrics.hpp"
#include "trainer/networks.hpp"

namespace dynshare::trainer {

struct TrainState {
    int epochs_done = 0;
    int64_t iteration = 0;
    int64_t sharing_phases = 0;
    Metrics metrics;
    // A run stopped inside an epoch (Ctrl-C, SIGTERM): the batches of epoch
    // `epochs_done` already trained, the epoch's running sums, its time so far
    // and the state of its augmentation generator, so that --resume continues
    // bit-identically. epoch_batches = 0 at an epoch boundary.
    int64_t epoch_batches = 0;
    double epoch_loss = 0, epoch_correct = 0, epoch_seen = 0, epoch_seconds = 0;
    std::string epoch_rng;
    bool interrupted = false;  // not stored: this process was asked to stop
    // The run's config (to_yaml), stored so that --resume can refuse another
    // one; empty in checkpoints written before it was stored.
    std::string config_yaml;
};

// Written to a temporary file and renamed, so a crash never leaves half a checkpoint.
void save_checkpoint(const std::string& path, Net& net, torch::optim::Optimizer& opt, const TrainState& state);

// Throws UserError when the file is unreadable or holds another architecture.
TrainState load_checkpoint(const std::string& path, Net& net, torch::optim::Optimizer& opt,
                           const torch::Device& device);

}  // namespace dynshare::trainer
