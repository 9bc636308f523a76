// SPDX-License-Identifier: BSD-3-Clause
// When things happen in a run, for every backend: the presentations' record
// and checkpoint stops, the blocks of presentations, layer_by_layer's active
// layer and each layer's plasticity clock. Depends only on the config and the
// presentation or step index, so a resumed run stops where a straight one
// does. The CPU engine (src/core/engine.cpp) and the CUDA runners
// (src/cuda/stack_runner.cpp, src/cuda/cuda_backend.cpp) ask this one; the
// single-layer kernel (src/cuda/layer_kernels.cu) keeps the same record rule
// on the device (the first record inside a presentation at R - step % R).
#pragma once
#include <cstdint>
#include <vector>

#include "dynshare/config.hpp"
#include "dynshare/plan.hpp"

namespace dynshare {

class RunSchedule {
public:
    static RunSchedule from(const SimConfig& cfg, const RunPlan& plan);

    int64_t steps() const { return S_; }           // per presentation
    int64_t presentations() const { return P_; }
    bool by_layer() const { return by_layer_; }     // stack.schedule = layer_by_layer

    // layer_by_layer: layer l is plastic for presentations
    // [first_presentation(l), first_presentation(l + 1)), and its plasticity
    // clock (delay, schedule) starts at first_presentation(l).
    int active_layer(int64_t p) const;
    int64_t first_presentation(int l) const;
    bool plastic(int l, int64_t p) const { return !by_layer_ || l == active_layer(p); }
    int64_t layer_clock(int l, int64_t step) const;  // the global step layer l's schedule sees

    // Records: every record_every steps, counted over the whole run.
    bool record_at(int64_t step) const { return step % R_ == 0; }
    bool record_inside(int64_t p) const { return R_ - (p * S_) % R_ < S_; }  // strictly inside presentation p
    // The segments of the presentation starting at `step`: the offsets of the
    // records inside it, then its end (S).
    void stops(int64_t step, std::vector<int64_t>& out) const;
    double record_time(int64_t step) const { return static_cast<double>(step) * dt_record_; }

    // A checkpoint after presentation p (not after the last one).
    bool checkpoint_after(int64_t p) const { return (p + 1) % checkpoint_every_ == 0 && p + 1 < P_; }

    // Blocked presentations (dynamics.block, clamped to the run's
    // presentations): aligned to multiples of the block, cut at every record
    // and checkpoint and where the active layer changes; a presentation with
    // a record inside runs alone. blocked = false: every presentation alone.
    int64_t block() const { return block_; }
    int64_t block_length(int64_t p0, bool blocked) const;

private:
    int64_t S_ = 1, P_ = 0, R_ = 1, checkpoint_every_ = 1, block_ = 1;
    int L_ = 1;
    bool by_layer_ = false;
    double dt_record_ = 1.0;
};

}  // namespace dynshare
