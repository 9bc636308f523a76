// SPDX-License-Identifier: BSD-3-Clause
// The memory bound of a run from its config alone (src/cli/memory_first.hpp),
// against the truth: the plan that make_plan then builds, its tables counted
// element by element, plus the engine's own run_memory_bytes of that plan.
// The bound must never be below it (a run it admits fits) and exceed it only
// by the tables' worst-case slack; sizes no plan could be built for are
// bounded without building anything.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/memory_first.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/plan.hpp"
#include "io/config_yaml.hpp"

using namespace dynshare;

namespace {

const std::string kStack = R"(stack:
  input: {channels: 3, height: 12, width: 12}
  layers:
    - {channels: 4, kernel: 3, stride: 1, padding: 1}
    - {channels: 5, kernel: 3, stride: 1, padding: 1}
)";

struct Truth {
    long double bytes = 0;  // run_memory_bytes + every table of the plan
    long double slack = 0;  // the bound's allowance: snr_rows, offsets at their worst
};

Truth truth_of(const SimConfig& cfg) {
    const RunPlan plan = make_plan(cfg);
    Truth t;
    t.bytes = static_cast<long double>(run_memory_bytes(cfg, plan));
    for (const LayerPlan& l : plan.layers) {
        const size_t tables =
            l.order.size() + l.snr_rows.size() + l.module_offsets.size() + l.snr_offsets.size() + l.module_of_cell.size();
        t.bytes += 8.0L * static_cast<long double>(tables);
        if (plan.kind == PlanKind::stack) t.slack += 8.0L * (4 * l.neurons + 2);
    }
    return t;
}

}  // namespace

TEST(MemoryFirst, SingleLayerBoundIsThePlansSizeExactly) {
    for (const std::vector<std::string>& sets :
         {std::vector<std::string>{}, {"layer.neurons=1000", "layer.kernel=5"}, {"input.noise_std=0.1"}}) {
        const SimConfig cfg = parse_config("run: {presentations: 10}\n", sets, "test");
        const cli::MemoryBound b = cli::memory_from_config(cfg);
        EXPECT_EQ(static_cast<long double>(b.bytes), truth_of(cfg).bytes);
        EXPECT_NE(b.key.find("layer.neurons = " + std::to_string(cfg.layer.neurons)), std::string::npos) << b.key;
    }
}

TEST(MemoryFirst, StackBoundCoversThePlanItsTablesIncluded) {
    for (const std::vector<std::string>& sets : {std::vector<std::string>{},
                                                 {"stack.connectivity=full"},
                                                 {"stack.connectivity=period:2"},
                                                 {"stack.connectivity=period:7"},
                                                 {"input.noise_std=0.1"},
                                                 {"dynamics.block=1"}}) {
        const SimConfig cfg = parse_config(kStack, sets, "test");
        const Truth t = truth_of(cfg);
        const long double bound = static_cast<long double>(cli::memory_from_config(cfg).bytes);
        EXPECT_GE(bound, t.bytes) << (sets.empty() ? "grid" : sets[0]);
        EXPECT_LE(bound, t.bytes + t.slack) << (sets.empty() ? "grid" : sets[0]);
    }
}

TEST(MemoryFirst, OversizedStacksAreBoundedWithoutAPlan) {
    // A module period of 10^5: its cell -> module map alone would hold
    // 4 x 10^10 entries (make_plan would throw std::bad_alloc or page).
    const SimConfig wide = parse_config(kStack, {"stack.connectivity=period:100000"}, "test");
    const cli::MemoryBound w = cli::memory_from_config(wide);
    EXPECT_GE(static_cast<long double>(w.bytes), 8.0L * 4 * 1e10);
    EXPECT_NE(w.key.find("stack.layers["), std::string::npos) << w.key;
    // Sizes beyond int (c_in k^2 of 2 x 10^9 input channels): saturated, named.
    const SimConfig deep = parse_config(kStack, {"stack.input.channels=2000000000"}, "test");
    const cli::MemoryBound d = cli::memory_from_config(deep);
    EXPECT_EQ(d.bytes, static_cast<long long>(9e18));
    EXPECT_NE(d.key.find("stack.layers[0]"), std::string::npos) << d.key;
    EXPECT_NE(d.key.find("2000000000x12x12"), std::string::npos) << d.key;
}
