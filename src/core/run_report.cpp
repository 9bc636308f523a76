// SPDX-License-Identifier: BSD-3-Clause
#include "core/run_report.hpp"

#include "dynshare/errors.hpp"

namespace dynshare {

std::string layer_name(const RunPlan& plan, int l) {
    return plan.kind == PlanKind::stack ? "layer " + std::to_string(l) : "the layer";
}

void check_run_start(const RunPlan& plan, const std::vector<std::vector<double>>& initial, const RunState* resume) {
    const int L = plan.num_layers();
    if (!resume && !initial.empty() && static_cast<int>(initial.size()) != L)
        throw UserError("initial weights: " + std::to_string(initial.size()) + " layers given for a plan of " +
                        std::to_string(L));
    if (resume && static_cast<int>(resume->layers.size()) != L)
        throw UserError("checkpoint holds " + std::to_string(resume->layers.size()) + " layers; the config has " +
                        std::to_string(L));
    for (int l = 0; l < L; ++l) {
        const LayerPlan& pl = plan.layers[l];
        const int64_t n = pl.neurons, k = pl.fan_in;
        if (resume) {
            const LayerState& s = resume->layers[l];
            if (s.w.size() != size_t(n * k) || s.w0.size() != size_t(n * k) || s.v.size() != size_t(n * k) ||
                s.r.size() != size_t(n) || s.r_inh.size() != size_t(pl.modules()))
                throw UserError("checkpoint of " + layer_name(plan, l) + " does not match the config's geometry");
        } else if (!initial.empty() && initial[l].size() != size_t(n * k)) {
            throw UserError("initial weights of " + layer_name(plan, l) + ": expected " + std::to_string(n * k) +
                            " values, got " + std::to_string(initial[l].size()));
        }
    }
}

std::string nonfinite_during(int64_t p, int64_t step_end, int64_t steps_per_presentation) {
    return "rates or weights became non-finite during presentation " + std::to_string(p) + " (steps " +
           std::to_string(step_end - steps_per_presentation) + " to " + std::to_string(step_end) + ")";
}

std::string overflow_at(int64_t step, int64_t p) {
    return "the weights overflowed at step " + std::to_string(step) + " (presentation " + std::to_string(p) +
           "; -log SNR_w cannot be computed there)";
}

void report_divergence(RunResult& result, bool stack, int l, int64_t at_step, const std::string& where) {
    result.status = RunStatus::diverged;
    result.diverged_at_step = at_step;
    result.message = (stack ? "layer " + std::to_string(l) + ": " : std::string()) + where +
                     "; reduce plasticity.lr or dynamics.dt";
}

}  // namespace dynshare
