// SPDX-License-Identifier: BSD-3-Clause
// The run loop, templated on how a run's layers step (issue 29, item 2):
// presentation after presentation from the policy's position p to the
// schedule's end, a stop asked at every presentation boundary, the
// presentations cut into blocks by RunSchedule::block_length. The policy
// holds the state and says what each of those does:
//   bool live() const;             some run goes on (a batch: any of its runs)
//   bool stop_requested();         an observer asks to stop (Ctrl-C) ...
//   void interrupted();            ... then the runs end, interrupted, at p
//   bool blocked() const;          presentations may run in blocks
//   bool block_of_presentations(int64_t nb);  nb presentations from p, p
//                                  left at the block's last; false: the loop ends
//   bool presentation_alone();     presentation p; false: the loop ends
// The CPU engine (EngineRun, core/engine.cpp) is a policy; the CUDA stack
// runner (src/cuda/stack_runner.cpp) gives its batch as PresentationPolicy.
#pragma once
#include <cstdint>

#include "core/run_schedule.hpp"

namespace dynshare {

template <class Policy>
void run_presentations(const RunSchedule& sch, int64_t& p, Policy& policy) {
    for (; p < sch.presentations() && policy.live(); ++p) {
        if (policy.stop_requested()) {
            policy.interrupted();
            break;
        }
        if (const int64_t nb = sch.block_length(p, policy.blocked()); nb > 1) {
            if (!policy.block_of_presentations(nb)) break;
            continue;
        }
        if (!policy.presentation_alone()) break;
    }
}

// A policy from callables, presentations one by one (no blocks): for a
// runner whose state lives in its function (the CUDA stack runner).
template <class Live, class Stop, class Interrupted, class Alone>
class PresentationPolicy {
public:
    PresentationPolicy(Live live, Stop stop, Interrupted interrupted, Alone alone)
        : live_(live), stop_(stop), interrupted_(interrupted), alone_(alone) {}
    bool live() const { return live_(); }
    bool stop_requested() { return stop_(); }
    void interrupted() { interrupted_(); }
    bool blocked() const { return false; }
    bool block_of_presentations(int64_t) { return false; }
    bool presentation_alone() { return alone_(); }

private:
    Live live_;
    Stop stop_;
    Interrupted interrupted_;
    Alone alone_;
};

}  // namespace dynshare
