// SPDX-License-Identifier: BSD-3-Clause
// Everything a run records, kept in memory, saved whole to RUN_DIR/metrics.h5
// after every epoch and inside every checkpoint (so --resume restores it).
//
// metrics.h5 layout (all float64; fractions in [0, 1]; E epochs, S sleep
// phases, L LC layers in forward order):
//   attribute /schema_version   1 (the file layout's version, as in run and sweep files)
//   attribute /config           resolved YAML of the run
//   attributes /<key path>      every scalar config key (train.lr, sharing.mode, ...)
//   attribute /network          architecture signature
//   attribute /lc_layers        LC layer names, newline-separated
//   attribute /world_size       processes of a data-parallel run (1: one process)
//   /epochs/train_loss (E)      mean cross-entropy over the epoch's batches
//   /epochs/train_top1 (E)
//   /epochs/test_loss, /epochs/test_top1, /epochs/test_top5 (E)
//   /epochs/val_loss, /epochs/val_top1, /epochs/val_top5 (E; NaN without a validation split)
//   /epochs/lr (E), /epochs/seconds (E, training wall time), /epochs/iterations (E, cumulative)
//   /epochs/world_size (E)      processes that trained each epoch (0: not recorded by
//                               the checkpoint it resumed from)
//   /epochs/snr (E x L)         -log SNR_w (Eq. 6) per LC layer at the end of each epoch,
//                               over the modules of sharing.modules (grid: period k; full:
//                               one per channel), non-border neurons, population variance
//   /epochs/snr_authors (E x L) the authors' SNR: mean over channels and inputs of
//                               |mean| / std over the non-border positions of a channel,
//                               unbiased std, a zero std as 1e-20 (authors_snr: the core's
//                               lc_snr_authors); not a logarithm
//   /sleep/iteration (S)        iteration after which each sharing phase ran
//   /sleep/seconds (S)          wall time of each phase
//   /sleep/snr_before, /sleep/snr_after (S x L; NaN where not measured:
//                               instant sharing measures every 10th phase)
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "trainer/train_config.hpp"

namespace dynshare::trainer {

struct Metrics {
    std::vector<double> train_loss, train_top1, test_loss, test_top1, test_top5, val_loss, val_top1, val_top5;
    std::vector<double> lr, seconds, iterations;
    // Processes that trained each epoch (a run resumed at another world size
    // shows the change; 0 where a checkpoint predates this record).
    std::vector<double> world_size;
    std::vector<std::vector<double>> snr, snr_authors;
    std::vector<double> sleep_iteration, sleep_seconds;
    std::vector<std::vector<double>> sleep_snr_before, sleep_snr_after;

    // Flat name -> tensor view for checkpoints (and back).
    std::vector<std::pair<std::string, torch::Tensor>> to_tensors() const;
    void from_tensors(const std::vector<std::pair<std::string, torch::Tensor>>& named);
};

// Writes the whole file (via a temporary file renamed into place). The
// attributes /config (to_yaml) and the key paths come from `cfg` itself, not
// from its YAML read back. `world_size`: processes of a data-parallel run
// (root attribute world_size).
void write_metrics_h5(const std::string& path, const Metrics& m, const RunConfig& cfg, const std::string& network,
                      const std::vector<std::string>& lc_names, int64_t world_size = 1);

}  // namespace dynshare::trainer
