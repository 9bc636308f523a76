// SPDX-License-Identifier: BSD-3-Clause
// Batch assembly on the CPU (uint8 gather, then float), moved to the device
// at the end; crops are per-image narrows of one zero-padded batch.
#include "trainer/batches.hpp"

#include <algorithm>
#include <numeric>

#include "dynshare/errors.hpp"

namespace dynshare::trainer {

std::vector<std::vector<int64_t>> epoch_batches(int64_t n, int batch_size, int repetitions, uint64_t seed,
                                                int epoch, bool grow) {
    if (!grow && batch_size % repetitions != 0)
        throw UserError("train.batch_size " + std::to_string(batch_size) + " is not a multiple of data.repetitions " +
                        std::to_string(repetitions));
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed * 7919 + uint64_t(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    const int64_t distinct = grow ? batch_size : batch_size / repetitions;
    std::vector<std::vector<int64_t>> batches;
    for (int64_t start = 0; start < n; start += distinct) {
        std::vector<int64_t> b;
        for (int64_t i = start; i < std::min(n, start + distinct); ++i)
            for (int r = 0; r < repetitions; ++r) b.push_back(order[i]);
        batches.push_back(std::move(b));
    }
    return batches;
}

BatchMaker::BatchMaker(const DataSplits& data, int padding, bool flip, torch::Device device)
    : padding_(padding), flip_(flip), device_(device) {
    const int64_t c = int64_t(data.mean.size());
    mean_ = torch::tensor(data.mean).view({1, c, 1, 1});
    inv_std_ = 1.0 / torch::tensor(data.std).view({1, c, 1, 1});
}

std::pair<torch::Tensor, torch::Tensor> BatchMaker::make(const ImageSet& set, const std::vector<int64_t>& idx,
                                                         std::mt19937_64* rng) const {
    auto index = torch::tensor(idx, torch::kLong);
    auto x = (set.images.index_select(0, index).to(torch::kFloat) - mean_) * inv_std_;
    auto y = set.labels.index_select(0, index);
    if (rng && (padding_ > 0 || flip_)) {
        const int64_t h = x.size(2), w = x.size(3), p = padding_;
        auto padded = p > 0 ? torch::constant_pad_nd(x, {p, p, p, p}, 0.0) : x;
        auto out = torch::empty_like(x);
        std::uniform_int_distribution<int64_t> off(0, 2 * p);
        std::bernoulli_distribution coin(0.5);
        for (int64_t i = 0; i < x.size(0); ++i) {
            auto img = padded[i].narrow(1, off(*rng), h).narrow(2, off(*rng), w);
            out[i].copy_(flip_ && coin(*rng) ? img.flip({2}) : img);
        }
        x = out;
    }
    return {x.to(device_), y.to(device_)};
}

}  // namespace dynshare::trainer
