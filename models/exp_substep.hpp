// SPDX-License-Identifier: BSD-3-Clause
// The exponential integrator's sub-steps (docs/integrators.md): how long the
// next one is, and the values it shares across a module's neurons. Written
// once for the CPU (PresentationIntegrator::exponential_to,
// src/core/presentation_continuous.cpp) and the kernels (src/cuda/*.cu); the
// per-neuron step itself is exponential_neuron (models/ei_rate.hpp).
#pragma once
#include <cmath>
#include <cstdint>

#include "dynshare/hostdevice.hpp"
#include "models/anti_hebbian.hpp"
#include "models/ei_rate.hpp"
#include "models/lr_schedule.hpp"

namespace dynshare {

// What fixes a layer's sub-steps: the rates' constants, the plasticity's
// gamma and clock (kappa_gate), dt and the largest sub-step.
struct ExpSubstepRule {
    EiRateParams ei;
    double gamma = 0.0, dt = 1e-3, macro_step = 0.0;
    LrSchedule schedule;
    double kappa_scale = 0.0;
    bool plastic = true;
};

// More sub-steps are due while t is short of t_end by more than rounding.
DS_HD bool exp_substep_due(double t, double t_end, double dt) { return t < t_end - 1e-12 * dt; }

// The sub-step's length: at most macro_step, and short enough that the
// weight change along x moves the drive by <= 10% (kappa |x|^2 h <= 0.1, with
// kappa at the sub-step's start and the layer's largest |x|^2); never shorter
// than dt (the model's own clock), never past t_end. (std::min/std::max's
// order of comparison, so NaN and signed zeros go as they always went.)
DS_HD double exp_substep_length(double macro_step, double dt, double kappa_start, double xx_max, double t,
                                double t_end) {
    double h = macro_step;
    if (kappa_start * xx_max > 0) {
        const double cap = 0.1 / (kappa_start * xx_max);
        h = cap < h ? cap : h;
    }
    h = h < dt ? dt : h;
    const double rest = t_end - t;
    return rest < h ? rest : h;
}

// One sub-step: its length h, the gamma decay over it (double: it also
// decays the shared G), and the neurons' shared values (m and integral_m
// come from the module's mean and r_inh, per module).
template <class T>
struct ExpSubstepFill {
    double h, decay;
    ExpSubstep<T> sub;
};

// The sub-step of a presentation begun at global step s0 that starts at its
// time t: kappa at the midpoint (the plasticity's exact integral of r - b
// uses it), E = e^{-h/tau}, 1 - E, the decay and kappa phi.
template <class T>
DS_HD ExpSubstepFill<T> exp_substep_at(const ExpSubstepRule& r, int64_t s0, double t, double t_end, double xx_max) {
    const double kappa_start = kappa_gate(r.plastic, r.schedule, r.kappa_scale, (t / r.dt) + static_cast<double>(s0));
    const double h = exp_substep_length(r.macro_step, r.dt, kappa_start, xx_max, t, t_end);
    const double kappa = kappa_gate(r.plastic, r.schedule, r.kappa_scale, static_cast<double>(s0) + (t + 0.5 * h) / r.dt);
    ExpSubstepFill<T> f;
    f.h = h;
    f.decay = continuous_decay(kappa, r.gamma, h);
    f.sub.h = static_cast<T>(h);
    f.sub.tau = static_cast<T>(r.ei.tau);
    f.sub.bias = static_cast<T>(r.ei.bias);
    f.sub.E = static_cast<T>(std::exp(-h / r.ei.tau));
    f.sub.one_minus_E = static_cast<T>(-std::expm1(-h / r.ei.tau));
    f.sub.m = T(0);
    f.sub.integral_m = T(0);
    f.sub.decay = static_cast<T>(f.decay);
    f.sub.kphi = static_cast<T>(kappa * continuous_phi(kappa, r.gamma, h));
    return f;
}

}  // namespace dynshare
