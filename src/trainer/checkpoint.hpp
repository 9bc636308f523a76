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
};

// Written to a temporary file and renamed, so a crash never leaves half a checkpoint.
void save_checkpoint(const std::string& path, Net& net, torch::optim::Optimizer& opt, const TrainState& state);

// Throws UserError when the file is unreadable or holds another architecture.
TrainState load_checkpoint(const std::string& path, Net& net, torch::optim::Optimizer& opt,
                           const torch::Device& device);

}  // namespace dynshare::trainer
