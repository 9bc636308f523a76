// SPDX-License-Identifier: BSD-3-Clause
#include "core/step_params.hpp"

#include <cmath>

namespace dynshare {

StepParams StepParams::from(const SimConfig& cfg, int64_t fan_in) {
    StepParams p;
    p.model = cfg.model;
    p.integrator = cfg.dynamics.integrator;
    p.continuous = cfg.effective_form() == PlasticityForm::continuous;
    p.ei = EiRateParams{cfg.dynamics.tau, cfg.dynamics.alpha, cfg.dynamics.bias};
    p.dt = cfg.dynamics.dt;
    p.steps = cfg.steps_per_presentation();
    const double presentation = p.steps * p.dt;
    p.macro_step = cfg.dynamics.macro_step > 0 ? cfg.dynamics.macro_step : presentation;
    p.abs_tol = cfg.dynamics.abs_tol;
    p.rel_tol = cfg.dynamics.rel_tol;
    p.mu = cfg.plasticity.momentum;
    p.gamma = cfg.plasticity.gamma;
    if (fan_in <= 0) fan_in = int64_t(cfg.layer.kernel) * cfg.layer.kernel;
    const double lr_divisor = cfg.plasticity.lr_scaling == LrScaling::fan_in ? static_cast<double>(fan_in) : 1.0;
    p.schedule.lr = cfg.plasticity.lr / lr_divisor;
    p.schedule.kind = static_cast<int>(cfg.plasticity.schedule);
    p.schedule.t0 = cfg.plasticity.schedule_t0;
    p.schedule.delay = cfg.plasticity.delay_steps;
    // kappa(t) = 1/tau_w(t) = eta(t) / (lr * tau_w): the schedule's shape scales the rate
    // (and lr_scaling's divisor, which is in eta, scales it like the discrete step).
    const double tau_w = cfg.effective_tau_w();
    p.kappa_scale = (cfg.plasticity.lr > 0 && std::isfinite(tau_w)) ? 1.0 / (cfg.plasticity.lr * tau_w) : 0.0;
    return p;
}

StepParams StepParams::for_layer(const SimConfig& cfg, int64_t fan_in, bool plastic) {
    if (plastic) return from(cfg, fan_in);
    StepParams frozen = from(cfg);
    frozen.plastic = false;
    return frozen;
}

double StepParams::kappa_at(double step_real) const { return kappa_gate(plastic, schedule, kappa_scale, step_real); }

ExpSubstepRule StepParams::exp_rule() const {
    ExpSubstepRule r;
    r.ei = ei;
    r.gamma = gamma;
    r.dt = dt;
    r.macro_step = macro_step;
    r.schedule = schedule;
    r.kappa_scale = kappa_scale;
    r.plastic = plastic;
    return r;
}

}  // namespace dynshare
