// SPDX-License-Identifier: BSD-3-Clause
// The run loop (core/run_loop.hpp) with a policy that only records what it
// is asked: every presentation visited once, in order; blocks where the
// schedule cuts them (aligned to dynamics.block, cut at checkpoints; none
// unblocked); a stop asked at a boundary ends the loop there, interrupted; a
// policy's false ends it; a batch whose runs all ended stops the loop.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "core/run_loop.hpp"
#include "core/run_schedule.hpp"
#include "dynshare/config.hpp"
#include "dynshare/plan.hpp"

namespace dynshare {
namespace {

struct Recorder {
    explicit Recorder(int64_t& position) : p(position) {}
    int64_t& p;
    bool blocks = true;
    int64_t stop_at = -1, fail_at = -1, dead_from = -1;
    std::vector<std::pair<int64_t, int64_t>> visited;  // (first presentation, count)
    bool was_interrupted = false;

    bool live() const { return dead_from < 0 || p < dead_from; }
    bool stop_requested() { return p == stop_at; }
    void interrupted() { was_interrupted = true; }
    bool blocked() const { return blocks; }
    bool block_of_presentations(int64_t nb) {
        visited.emplace_back(p, nb);
        const bool ok = !(fail_at >= p && fail_at < p + nb);
        p += nb - 1;
        return ok;
    }
    bool presentation_alone() {
        visited.emplace_back(p, 1);
        return p != fail_at;
    }
};

RunSchedule schedule(int64_t presentations, int64_t block, int64_t checkpoint_every) {
    SimConfig cfg;
    cfg.run.presentations = presentations;
    cfg.run.checkpoint_every = checkpoint_every;
    cfg.run.record_every = 1 << 30;  // no record inside the run
    cfg.dynamics.block = block;
    validate(cfg);
    return RunSchedule::from(cfg, make_plan(cfg));
}

TEST(RunLoop, VisitsEveryPresentationOnceInTheSchedulesBlocks) {
    const RunSchedule sch = schedule(23, 4, 10);
    int64_t p = 0;
    Recorder r{p};
    run_presentations(sch, p, r);
    // Blocks at multiples of 4, cut at the checkpoints after 9 and 19 (p = 10, 20).
    const std::vector<std::pair<int64_t, int64_t>> want = {{0, 4}, {4, 4}, {8, 2}, {10, 2}, {12, 4},
                                                          {16, 4}, {20, 3}};
    EXPECT_EQ(r.visited, want);
    EXPECT_EQ(p, 23);
    EXPECT_FALSE(r.was_interrupted);

    int64_t q = 5;  // resumed at 5, unblocked: one by one
    Recorder one{q};
    one.blocks = false;
    run_presentations(sch, q, one);
    ASSERT_EQ(one.visited.size(), 18u);
    for (size_t i = 0; i < one.visited.size(); ++i) EXPECT_EQ(one.visited[i], std::make_pair(int64_t(5 + i), int64_t(1)));
}

TEST(RunLoop, StopsEndItAtTheBoundaryAndFailuresWhereTheyHappen) {
    const RunSchedule sch = schedule(23, 4, 100);
    int64_t p = 0;
    Recorder stop{p};
    stop.stop_at = 8;
    run_presentations(sch, p, stop);
    EXPECT_TRUE(stop.was_interrupted);
    EXPECT_EQ(p, 8);
    EXPECT_EQ(stop.visited.back(), std::make_pair(int64_t(4), int64_t(4)));

    int64_t q = 0;
    Recorder fail{q};
    fail.fail_at = 6;  // inside the block [4, 8): the loop ends with it
    run_presentations(sch, q, fail);
    EXPECT_FALSE(fail.was_interrupted);
    EXPECT_EQ(fail.visited.size(), 2u);

    int64_t d = 0;
    Recorder dead{d};
    dead.blocks = false;
    dead.dead_from = 3;  // every run of the batch has ended: nothing more is asked
    run_presentations(sch, d, dead);
    EXPECT_EQ(dead.visited.size(), 3u);
    EXPECT_EQ(d, 3);
}

}  // namespace
}  // namespace dynshare
