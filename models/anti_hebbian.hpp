// The anti-Hebbian plasticity of Eq. 4 / Eq. 8 with the pull back to the
// initial weights:  g_i = (r_i - b) x_i + gamma (w_i - w_i^init),
//   discrete form (the paper's simulation): v_i <- mu v_i + g_i, w_i <- w_i - eta v_i, once per step;
//   continuous form: dw_i/dt = -g_i / tau_w(t).
//
// Within one presentation x_i is constant, so every weight stays in the span
// of {w_i^s, v_i^s, D_i = w_i^s - w_i^init, x_i} (values at the presentation's
// start). We keep the coordinates instead of the N x k^2 weights:
//   w_i = w_i^s + F v_i^s + G D_i + c_i x_i,   v_i = A v_i^s + B D_i + e_i x_i,
// with A, B, F, G shared by all neurons and c_i, e_i per neuron. One step
// then costs O(1) per neuron instead of O(k^2); the same trajectory as the
// plain loop, up to rounding (tests/test_reduced_vs_plain.cpp checks it).
#pragma once
#include <cmath>

#include "dynshare/hostdevice.hpp"

namespace dynshare {

struct ReducedShared {   // coordinates shared by all neurons of a layer
    double A = 1.0, B = 0.0, F = 0.0, G = 0.0;
};

// z_i = w_i . x_i from the coordinates and the start-of-presentation dots.
DS_HD double reduced_drive(const ReducedShared& s, double sw, double sv, double sd, double xx, double c) {
    return sw + s.F * sv + s.G * sd + c * xx;
}

// One discrete momentum step. Shared part: call once per step, before the
// per-neuron updates, with the old values kept for them.
DS_HD ReducedShared momentum_step_shared(const ReducedShared& s, double mu, double gamma, double eta) {
    ReducedShared n;
    n.A = mu * s.A + gamma * s.F;
    n.B = mu * s.B + gamma * (1.0 + s.G);
    n.F = s.F - eta * n.A;
    n.G = s.G - eta * n.B;
    return n;
}

// Per neuron: e' = mu e + gamma c + (r - b), c' = c - eta e'.
DS_HD void momentum_step_neuron(double mu, double gamma, double eta, double r_minus_b, double& c, double& e) {
    e = mu * e + gamma * c + r_minus_b;
    c = c - eta * e;
}

// Continuous form, exact in G and in the gamma decay of c over a step h with
// kappa = 1/tau_w held constant; `int_r_minus_b` = integral of (r_i - b) over
// the step. The integral is weighted by phi(kappa gamma h) = (1 - e^-a)/a,
// exact when r is constant over the step (the documented approximation).
DS_HD double continuous_decay(double kappa, double gamma, double h) { return std::exp(-kappa * gamma * h); }
DS_HD double continuous_phi(double kappa, double gamma, double h) {
    const double a = kappa * gamma * h;
    return (a > 1e-8) ? (1.0 - std::exp(-a)) / a : 1.0 - 0.5 * a;
}

}  // namespace dynshare
