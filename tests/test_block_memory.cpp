// SPDX-License-Identifier: BSD-3-Clause
// What the blocked path holds, against what the memory estimate counts
// (core/block_plan.hpp): the arrays BlockedLayer::setup allocates for every
// layer of a stacked plan, their one shared set of drives (the largest
// layer's), and the block groups counted from the plan alone against the
// groups the input source forms. And the w0 pair of the blocked path's fold
// (models/anti_hebbian.hpp fold_map_w0) against materialize_discrete.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/block_plan.hpp"
#include "core/input_source.hpp"
#include "core/stack_patterns.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/plan.hpp"
#include "io/config_yaml.hpp"
#include "models/anti_hebbian.hpp"

namespace dynshare {
namespace {

// The first layer is not the largest: the shared drives must grow to the
// second's size, and the estimate must count them once, at that size.
const std::string kStack = R"(stack:
  input: {channels: 3, height: 20, width: 20}
  layers:
    - {channels: 4, kernel: 3, stride: 2, padding: 1}
    - {channels: 40, kernel: 3, stride: 1, padding: 1}
    - {channels: 8, kernel: 3, stride: 1, padding: 0}
run: {presentations: 100}
dynamics: {block: 40}
)";

struct Held {
    long double own = 0, drives = 0;
    bool shared = true;
};

Held setup_and_measure(const SimConfig& cfg, const RunPlan& plan, bool momentum,
                       std::vector<BlockedLayer<double>>& layers) {
    auto source = make_input_source<double>(cfg, plan);
    EXPECT_TRUE(setup_blocked_layers(plan, *source, cfg.dynamics.block, momentum, layers));
    Held h;
    for (const BlockedLayer<double>& b : layers) {
        h.own += b.held().own;
        h.shared = h.shared && b.drives() == layers.front().drives();
    }
    h.drives = layers.front().held().drives;
    return h;
}

TEST(BlockMemory, EstimateBoundsWhatTheStackedLayersHold) {
    for (const char* form : {"discrete", "continuous"}) {
        SCOPED_TRACE(form);
        const SimConfig cfg = parse_config(kStack, {std::string("plasticity.form=") + form}, "test");
        const RunPlan plan = make_plan(cfg);
        const bool momentum = cfg.effective_form() != PlasticityForm::continuous;
        std::vector<BlockedLayer<double>> layers;
        const Held h = setup_and_measure(cfg, plan, momentum, layers);
        ASSERT_EQ(layers.size(), plan.layers.size());
        EXPECT_TRUE(h.shared) << "every layer must use the one set of drives";
        // The drives hold the largest layer's W X, W0 X (V X): once.
        int64_t largest = 0;
        for (const LayerPlan& pl : plan.layers) largest = std::max(largest, pl.neurons);
        EXPECT_GT(plan.layers[1].neurons, plan.layers[0].neurons);
        EXPECT_EQ(h.drives, 8.0L * (momentum ? 3 : 2) * largest * cfg.dynamics.block);
        // Layer by layer, the counted arrays bound the held ones closely.
        const std::vector<int64_t> groups = block_group_counts(plan);
        for (size_t l = 0; l < layers.size(); ++l) {
            const LayerPlan& pl = plan.layers[l];
            EXPECT_EQ(groups[l], layers[l].groups().groups()) << "layer " << l;
            const BlockBytes c =
                block_layer_bytes(pl.neurons, pl.fan_in, groups[l], false, cfg.dynamics.block, momentum, 8);
            const BlockBytes held = layers[l].held();
            EXPECT_GE(c.own, held.own) << "layer " << l;
            EXPECT_LE(c.own, 1.05L * held.own) << "layer " << l;
        }
        // The plan's estimate (no scratch) bounds the whole and is within 5 %.
        const long double actual = h.own + h.drives;
        const long double est = blocked_plan_bytes(plan, cfg.dynamics.block, momentum, 8, 0);
        EXPECT_GE(est, actual);
        EXPECT_LE(est, 1.05L * actual);
        // run_memory_bytes includes it, and a thread's scratch per thread.
        EXPECT_GE(static_cast<long double>(run_memory_bytes(cfg, plan)), est);
    }
}

TEST(BlockMemory, GroupsCountedFromThePlanAreTheSourcesGroups) {
    // Borders zero and periodic, strides 1 and 2, the grid and the full
    // connectivity (input periods of several sizes), outputs wider than
    // period + borders (the count skips repeating positions).
    for (const char* border : {"zero", "periodic"})
        for (const char* conn : {"grid", "full", "period:2"}) {
            SCOPED_TRACE(std::string(border) + " " + conn);
            const SimConfig cfg = parse_config(
                std::string("stack:\n  input: {channels: 2, height: 24, width: 18}\n  layers:\n"
                            "    - {channels: 2, kernel: 4, stride: 2, padding: 1}\n"
                            "    - {channels: 2, kernel: 4, stride: 1, padding: 1}\n"
                            "    - {channels: 2, kernel: 2, stride: 2, padding: 0}\n"
                            "dynamics: {block: 8}\n"),
                {std::string("stack.border=") + border, std::string("stack.connectivity=") + conn}, "test");
            const RunPlan plan = make_plan(cfg);
            StackPatterns<double> source(cfg, plan);
            for (int l = 0; l < plan.num_layers(); ++l) {
                InputGroups g;
                ASSERT_TRUE(source.block_groups(l, g));
                EXPECT_EQ(stack_block_group_count(plan, l), g.groups()) << "layer " << l;
            }
        }
}

TEST(BlockMemory, FoldMapW0IsMaterializeDiscretesW0Part) {
    // w = aw wS + av vS + a0 w0, v = bw wS + bv vS + b0 w0: one presentation's
    // materialize_discrete (c = e = 0) gives coefficients fold_map (wS's and
    // vS's pairs) and fold_map_w0 (w0's pair).
    const ReducedShared s{0.93, -0.021, 0.017, -0.034};  // A, B, F, G
    const double aw = 0.8, av = 0.3, a0 = -0.15, bw = 0.05, bv = 0.7, b0 = 0.11;
    for (const double ws : {1.3, -0.4})
        for (const double vs : {0.2, -2.0})
            for (const double w0 : {0.5, -1.7}) {
                double w = aw * ws + av * vs + a0 * w0, v = bw * ws + bv * vs + b0 * w0;
                materialize_discrete(w, v, w0, s.A, s.B, s.F, s.G, 0.0, 0.0, 0.0);
                const FoldPair nw = fold_map(s, aw, bw), nv = fold_map(s, av, bv), n0 = fold_map_w0(s, a0, b0);
                EXPECT_NEAR(w, nw.w * ws + nv.w * vs + n0.w * w0, 1e-14);
                EXPECT_NEAR(v, nw.v * ws + nv.v * vs + n0.v * w0, 1e-14);
            }
}

}  // namespace
}  // namespace dynshare
