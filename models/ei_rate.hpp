// SPDX-License-Identifier: BSD-3-Clause
// Eq. 8: excitatory rates r_i and one inhibitory rate r_inh per module,
//   tau dr_i/dt   = -r_i + z_i - alpha r_inh + b,     z_i = w_i . x_i
//   tau dr_inh/dt = -r_inh + mean_j r_j - b.
// The equations are linear, so the module mean m and r_inh form a closed 2D
// system, and each deviation r_i - m relaxes on its own with time constant
// tau. Both have closed-form solutions used by the exponential integrator.
//
// Per-neuron functions are templated on the neuron scalar T (double, or float
// for run.precision = fp32 and on the GPU); per-module scalars of the exact
// propagator are double. The CPU engine (src/core/presentation*.cpp) and the
// CUDA kernels (src/cuda/layer_kernels.cu) call exactly these.
#pragma once
#include <cmath>

#include "dynshare/hostdevice.hpp"

namespace dynshare {

struct EiRateParams {
    double tau = 0.03, alpha = 10.0, bias = 1.0;
};

// Right-hand sides (per unit time).
template <class T>
DS_HD T ei_drdt(T tau, T alpha, T bias, T r, T z, T r_inh) {
    return (-r + z - alpha * r_inh + bias) / tau;
}
template <class T>
DS_HD T ei_drinh_dt(T tau, T bias, T r_inh, T mean_r) {
    return (-r_inh + mean_r - bias) / tau;
}
DS_HD double ei_drdt(const EiRateParams& p, double r, double z, double r_inh) {
    return ei_drdt<double>(p.tau, p.alpha, p.bias, r, z, r_inh);
}
DS_HD double ei_drinh_dt(const EiRateParams& p, double r_inh, double mean_r) {
    return ei_drinh_dt<double>(p.tau, p.bias, r_inh, mean_r);
}

// Explicit Euler with h = dt / tau. `drive0` = -alpha r_inh + b of the
// neuron's module at the start of the step.
template <class T>
DS_HD T euler_rate(T r, T z, T drive0, T h) {
    return r + h * (-r + z + drive0);
}
template <class T>
DS_HD T euler_inh(T r_inh, T mean_r, T bias, T h) {
    return r_inh + h * (-r_inh + mean_r - bias);
}

// Classic RK4: an intermediate point y + c dt k, and the weighted combination.
template <class T>
DS_HD T rk4_point(T y, T c_dt, T k) {
    return y + c_dt * k;
}
template <class T>
DS_HD T rk4_combine(T k1, T k2, T k3, T k4) {
    return (k1 + T(2) * k2 + T(2) * k3 + k4) / T(6);
}

// The classic RK4 step's stage sequence, once for every caller (the CPU
// integrators over whole layers, the single-layer kernel over one neuron with
// block sums between the stages): stage(s, c) evaluates the slope k_s,
// s = 0, 1, 2, 3, at the point y + c k_{s-1} (formed by the caller with
// rk4_point; s = 0: at y itself, c = 0) and at the time offset c, where
// c = 0, h/2, h/2, h. The step then ends with y + h rk4_combine(k1..k4).
template <class T, class Stage>
DS_HD void rk4_stages(T h, Stage&& stage) {
    const T half = static_cast<T>(0.5) * h;
    stage(0, T(0));
    stage(1, half);
    stage(2, half);
    stage(3, h);
}

// Exact propagator of the (mean, r_inh) system over a time h with the mean
// drive zbar held constant. With u = (m - m*, q - q*) and A = [[-1,-alpha],[1,-1]]/tau,
// exp(A h) = e^{-h/tau} [cos(w s) I + sin(w s)/w J], J = [[0,-alpha],[1,0]], w = sqrt(alpha), s = h/tau.
// Also returns the integral of m over [0, h] (needed by the plasticity).
struct MeanInhStep {
    double m, q, integral_m;
};

// The part of the propagator that depends only on h: one per sub-step,
// shared by every module (cos, sin and exp were 3 % of a training sleep
// phase when each module computed them).
struct MeanInhPropagator {
    double h, decay, c, sn;
};

DS_HD MeanInhPropagator ei_mean_inh_propagator(const EiRateParams& p, double h) {
    const double s = h / p.tau;
    const double w = std::sqrt(p.alpha);
    return MeanInhPropagator{h, std::exp(-s), std::cos(w * s), (w > 0.0) ? std::sin(w * s) / w : s};  // sin(ws)/w -> s as alpha -> 0
}

DS_HD MeanInhStep ei_mean_inh_apply(const EiRateParams& p, const MeanInhPropagator& e, double m, double q, double zbar) {
    const double m_star = p.bias + zbar / (1.0 + p.alpha);
    const double q_star = zbar / (1.0 + p.alpha);
    const double u0 = m - m_star, u1 = q - q_star;
    // exp(A h) u0 with J u = (-alpha u1, u0)
    const double e0 = e.decay * (e.c * u0 - e.sn * p.alpha * u1);
    const double e1 = e.decay * (e.c * u1 + e.sn * u0);
    // integral_0^h exp(A t) dt u0 = A^{-1} (exp(Ah) - I) u0, A^{-1} = tau/(1+alpha) [[-1, alpha],[-1,-1]]
    const double d0 = e0 - u0, d1 = e1 - u1;
    const double k = p.tau / (1.0 + p.alpha);
    const double int0 = k * (-d0 + p.alpha * d1);
    return MeanInhStep{m_star + e0, q_star + e1, m_star * e.h + int0};
}

DS_HD MeanInhStep ei_mean_inh_exact(const EiRateParams& p, double m, double q, double zbar, double h) {
    return ei_mean_inh_apply(p, ei_mean_inh_propagator(p, h), m, q, zbar);
}

// What one exponential sub-step of length h shares across a module's
// neurons: the deviation propagator E = e^{-h/tau} (and 1 - E), the mean and
// r_inh from ei_mean_inh_exact, and the continuous plasticity's decay and
// kappa phi (models/anti_hebbian.hpp), all cast to the neurons' T.
template <class T>
struct ExpSubstep {
    T h, tau, bias, E, one_minus_E, m, integral_m, decay, kphi;
};

// One neuron over the sub-step (s by value: no aliasing with r and c, so the
// caller's loop vectorises): its deviation from the module mean relaxes
// exactly towards zeta = z - zbar; c integrates the exact integral of r - b.
template <class T>
DS_HD void exponential_neuron(const ExpSubstep<T> s, T z, T zbar, T mean_r, T& r, T& c) {
    const T zeta = z - zbar;
    const T delta = r - mean_r;
    const T int_delta = zeta * s.h + (delta - zeta) * s.tau * s.one_minus_E;
    r = s.m + zeta + (delta - zeta) * s.E;
    c = c * s.decay - s.kphi * (int_delta + s.integral_m - s.bias * s.h);
}

}  // namespace dynshare
