// SPDX-License-Identifier: BSD-3-Clause
// Mini-batches: epoch orderings with n repetitions of each image per batch
// (the paper's "n reps", batch size fixed), normalisation, and padding +
// random crop + optional flip. Padding is zero after normalisation, i.e. the
// training mean before it, as in the paper.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <random>
#include <vector>

#include "trainer/datasets.hpp"

namespace dynshare::trainer {

// Index lists of one epoch: each batch holds batch_size / repetitions distinct
// images, each `repetitions` times (data.repetition_batch fixed, the paper's
// text), or, with `grow`, batch_size distinct images each `repetitions` times,
// a batch of repetitions * batch_size with the iteration count of one
// repetition (the authors' code). Deterministic in (seed, epoch).
std::vector<std::vector<int64_t>> epoch_batches(int64_t n, int batch_size, int repetitions, uint64_t seed,
                                                int epoch, bool grow = false);

class BatchMaker {
public:
    BatchMaker(const DataSplits& data, int padding, bool flip, torch::Device device);

    // Normalised float images (B, C, H, W) and labels on the device;
    // `augment` applies random crops and flips drawn from `rng`.
    std::pair<torch::Tensor, torch::Tensor> make(const ImageSet& set, const std::vector<int64_t>& idx,
                                                 std::mt19937_64* rng) const;

private:
    torch::Tensor mean_, inv_std_;  // (1, C, 1, 1)
    int padding_;
    bool flip_;
    torch::Device device_;
};

}  // namespace dynshare::trainer
