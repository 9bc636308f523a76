// SPDX-License-Identifier: BSD-3-Clause
#include "core/run_schedule.hpp"

#include <algorithm>

#include "core/step_params.hpp"

namespace dynshare {

RunSchedule RunSchedule::from(const SimConfig& cfg, const RunPlan& plan) {
    RunSchedule s;
    s.S_ = StepParams::from(cfg).steps;
    s.P_ = cfg.run.presentations;
    s.R_ = cfg.run.record_every;
    s.checkpoint_every_ = cfg.run.checkpoint_every;
    s.L_ = plan.num_layers();
    s.by_layer_ = plan.kind == PlanKind::stack && plan.schedule == LayerSchedule::layer_by_layer;
    s.dt_record_ = cfg.model == ModelKind::ideal ? 1.0 : cfg.dynamics.dt;
    s.block_ = std::min<int64_t>(cfg.dynamics.block, s.P_);
    return s;
}

int RunSchedule::active_layer(int64_t p) const { return static_cast<int>(std::min<int64_t>(L_ - 1, (p * L_) / P_)); }

int64_t RunSchedule::first_presentation(int l) const { return (int64_t(l) * P_ + L_ - 1) / L_; }

int64_t RunSchedule::layer_clock(int l, int64_t step) const {
    return by_layer_ ? std::max<int64_t>(0, step - S_ * first_presentation(l)) : step;
}

void RunSchedule::stops(int64_t step, std::vector<int64_t>& out) const {
    out.clear();
    for (int64_t j = R_ - (step % R_); j < S_; j += R_) out.push_back(j);
    out.push_back(S_);
}

int64_t RunSchedule::block_length(int64_t p0, bool blocked) const {
    if (!blocked || record_inside(p0)) return 1;
    const int64_t last = std::min(P_, (p0 / block_ + 1) * block_);
    int64_t e = p0 + 1;  // [p0, e) is a block
    for (; e < last; ++e) {
        if ((e * S_) % R_ == 0 || e % checkpoint_every_ == 0 || record_inside(e)) break;
        if (by_layer_ && active_layer(e) != active_layer(e - 1)) break;
    }
    return e - p0;
}

}  // namespace dynshare
