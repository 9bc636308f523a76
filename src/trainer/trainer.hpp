// The training loop: AdamW with step decay, sharing phases every
// sharing.every iterations, per-epoch evaluation, metrics.h5 and checkpoints.
#pragma once
#include <string>

#include "trainer/checkpoint.hpp"
#include "trainer/train_config.hpp"

namespace dynshare::trainer {

struct RunOptions {
    std::string run_dir;
    bool resume = false;     // continue from RUN_DIR/checkpoint.pt
    bool overwrite = false;  // allow replacing an existing run
};

// Runs (or resumes) training; returns the final state. UserError for the
// user's mistakes (missing data, bad shapes, no CUDA, existing run dir).
TrainState run_training(const RunConfig& cfg, const RunOptions& options);

}  // namespace dynshare::trainer
