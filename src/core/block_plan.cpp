// SPDX-License-Identifier: BSD-3-Clause
#include "core/block_plan.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/stack_patterns.hpp"

namespace dynshare {

template <class T>
bool setup_blocked_layers(const RunPlan& plan, InputSource<T>& source, int64_t max_p, bool momentum,
                          std::vector<BlockedLayer<T>>& layers) {
    const int L = plan.num_layers();
    layers.clear();
    layers.resize(static_cast<size_t>(L));
    const auto drives = std::make_shared<BlockDrives<T>>();
    for (int l = 0; l < L; ++l) {
        InputGroups g;
        if (!source.block_groups(l, g)) {
            layers.clear();
            return false;
        }
        layers[l].setup(plan.layers[l].neurons, plan.layers[l].fan_in, std::move(g), max_p, momentum, drives);
    }
    return true;
}

BlockBytes block_layer_bytes(int64_t n, int64_t k, int64_t groups, bool identity, int64_t max_p, bool momentum,
                             size_t value_bytes) {
    using LD = long double;
    const LD N = static_cast<LD>(n), K = static_cast<LD>(k), G = static_cast<LD>(groups), P = static_cast<LD>(max_p);
    const LD m = momentum ? 2 : 1, vb = static_cast<LD>(value_bytes);
    BlockBytes b;
    // Values: the inputs' two buffers (X_), c and e (ce_), the sub-block's
    // drives (z_), corrections and earlier weights per group (corr_, pre_),
    // the Gram matrices per group (gram_).
    b.own = vb * (2 * G * K * P + m * N * P + m * kBlockSub * N + G * 4 * P + G * 4 * P * kBlockSub + G * P * P);
    // Bookkeeping: gram_'s vectors, the folds (four doubles per
    // presentation), slot -> group, the tasks (at most one per 256 slots of
    // a group, plus one per group), their runs of consecutive neurons (at
    // most one per slot), the groups' members and offsets.
    const LD tasks = std::ceil(N / 256) + G;
    b.own += G * sizeof(std::vector<char>) + P * 4 * sizeof(double) + N * sizeof(int64_t) +
             tasks * sizeof(BlockTask) + std::min(N, tasks * 256) * sizeof(SlotRun) + (tasks + 1) * sizeof(int64_t) +
             (identity ? 0 : N * sizeof(int64_t)) + (G + 1) * sizeof(int64_t);
    // W X, W0 X and (momentum) V X.
    b.drives = vb * (momentum ? 3 : 2) * N * P;
    return b;
}

long double block_scratch_bytes(int64_t k, int64_t max_p, bool momentum, size_t value_bytes) {
    using LD = long double;
    constexpr LD chunk = 256;  // kChunk of core/block.cpp: rows per task
    const LD line = 64 / static_cast<LD>(value_bytes);
    const LD K = static_cast<LD>(k), P = static_cast<LD>(max_p), ld = std::ceil(P / line) * line;
    const LD m = momentum ? 2 : 1;
    return static_cast<LD>(value_bytes) * (m * chunk * P + m * chunk * K + chunk * ld + K * ld);
}

std::vector<int64_t> block_group_counts(const RunPlan& plan) {
    std::vector<int64_t> g(plan.layers.size(), 1);
    if (plan.kind == PlanKind::stack)
        for (int l = 0; l < plan.num_layers(); ++l) g[l] = stack_block_group_count(plan, l);
    return g;
}

long double blocked_plan_bytes(const RunPlan& plan, int64_t max_p, bool momentum, size_t value_bytes, int threads) {
    const std::vector<int64_t> groups = block_group_counts(plan);
    long double own = 0, drives = 0, scratch = 0;
    for (int l = 0; l < plan.num_layers(); ++l) {
        const LayerPlan& pl = plan.layers[l];
        const BlockBytes b = block_layer_bytes(pl.neurons, pl.fan_in, groups[l], plan.kind != PlanKind::stack,
                                               max_p, momentum, value_bytes);
        own += b.own;
        drives = std::max(drives, b.drives);  // one set, the largest layer's
        scratch = std::max(scratch, block_scratch_bytes(pl.fan_in, max_p, momentum, value_bytes));
    }
    return own + drives + static_cast<long double>(std::max(threads, 0)) * scratch;
}

template bool setup_blocked_layers<double>(const RunPlan&, InputSource<double>&, int64_t, bool,
                                           std::vector<BlockedLayer<double>>&);
template bool setup_blocked_layers<float>(const RunPlan&, InputSource<float>&, int64_t, bool,
                                          std::vector<BlockedLayer<float>>&);

}  // namespace dynshare
