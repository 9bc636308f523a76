// SPDX-License-Identifier: BSD-3-Clause
// Run-constant numbers the integrators need, derived once from SimConfig
// (NEST's "derived values"): nothing here is read from YAML.
#pragma once
#include <cstdint>

#include "dynshare/config.hpp"
#include "models/ei_rate.hpp"
#include "models/exp_substep.hpp"
#include "models/lr_schedule.hpp"

namespace dynshare {

struct StepParams {
    ModelKind model = ModelKind::ei_rate;
    Integrator integrator = Integrator::euler;
    bool continuous = false;       // plasticity form in effect
    EiRateParams ei;
    double dt = 1e-3;
    int64_t steps = 150;           // steps per presentation
    double macro_step = 0.0;       // exponential integrator's largest sub-step (s)
    double abs_tol = 1e-8, rel_tol = 1e-8;
    double mu = 0.95, gamma = 0.1;
    LrSchedule schedule;
    double kappa_scale = 0.0;      // continuous form: kappa(t) = eta(t/dt) * kappa_scale
    bool plastic = true;           // false: rates only (used by layer_by_layer and tests)

    // fan_in: inputs per neuron of the layer these parameters drive, for
    // plasticity.lr_scaling = fan_in; 0 = the single layer's k^2.
    static StepParams from(const SimConfig& cfg, int64_t fan_in = 0);
    // Layer l of a plan, for the engine and the CUDA stack runner alike:
    // plastic, with its own fan-in (plasticity.lr_scaling); or frozen
    // (layer_by_layer's inactive layers): the config's parameters with
    // plastic = false, rates only.
    static StepParams for_layer(const SimConfig& cfg, int64_t fan_in, bool plastic);
    double kappa_at(double step_real) const;  // 1/tau_w at a (fractional) global step
    ExpSubstepRule exp_rule() const;           // the exponential integrator's sub-step rule
};

}  // namespace dynshare
