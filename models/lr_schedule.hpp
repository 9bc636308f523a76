// SPDX-License-Identifier: BSD-3-Clause
// Learning-rate schedule of the plasticity: eta(s) for global step s (an
// integration step for ei_rate, an iteration for ideal). Fig. 4A uses
// 0.5/(1000 + t); Fig. 4B 3e-4/sqrt(1 + t/2) after a 50-step delay.
// The continuous form's rate kappa(t) = 1/tau_w(t) follows the same shape.
// Always double: O(1) per step, whatever the neurons' scalar type.
#pragma once
#include <cmath>
#include <cstdint>

#include "dynshare/hostdevice.hpp"

namespace dynshare {

struct LrSchedule {
    double lr = 0.0;
    int kind = 0;            // 0 constant, 1 inv: lr/(t0+t), 2 inv_sqrt: lr/sqrt(1+t/t0)
    double t0 = 1.0;
    int64_t delay = 0;       // eta = 0 for s < delay; t = s - delay afterwards

    // The schedule's value at t = s - delay >= 0 (real-valued: the continuous form's clock).
    DS_HD double shape(double t) const {
        switch (kind) {
            case 1: return lr / (t0 + t);
            case 2: return lr / std::sqrt(1.0 + t / t0);
            default: return lr;
        }
    }
    DS_HD double operator()(int64_t s) const {
        if (s < delay || lr == 0.0) return 0.0;
        return shape(static_cast<double>(s - delay));
    }
};

// kappa = 1/tau_w at a fractional global step: eta(step) * kappa_scale, 0
// before the delay (continuous plasticity form).
DS_HD double continuous_kappa(const LrSchedule& s, double kappa_scale, double step_real) {
    if (kappa_scale == 0.0 || step_real < static_cast<double>(s.delay)) return 0.0;
    return s.shape(step_real - static_cast<double>(s.delay)) * kappa_scale;
}

// The gate around it: a frozen layer (plastic = false: layer_by_layer's
// other layers, rates-only runs) has kappa = 0. StepParams::kappa_at (CPU)
// and the kernels (src/cuda/*.cu) ask this one.
DS_HD double kappa_gate(bool plastic, const LrSchedule& s, double kappa_scale, double step_real) {
    return plastic ? continuous_kappa(s, kappa_scale, step_real) : 0.0;
}

}  // namespace dynshare
