// SPDX-License-Identifier: BSD-3-Clause
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
//
// Every per-neuron function is templated on the scalar T of the neuron state
// (double on the CPU by default, float for run.precision = fp32 and the GPU's
// default); the shared coefficients A, B, F, G are always double (O(1) per
// step per layer), cast to T where they meet per-neuron values. The CPU
// engine (src/core/presentation*.cpp) and the CUDA kernels
// (src/cuda/layer_kernels.cu) both call these functions.
#pragma once
#include <cmath>

#include "dynshare/hostdevice.hpp"

namespace dynshare {

struct ReducedShared {   // coordinates shared by all neurons of a layer
    double A = 1.0, B = 0.0, F = 0.0, G = 0.0;
};

// z_i = w_i . x_i from the coordinates and the start-of-presentation dots
// sw = w^s.x, sv = v^s.x, sd = D.x, xx = x.x.
template <class T>
DS_HD T reduced_drive(const ReducedShared& s, T sw, T sv, T sd, T xx, T c) {
    return sw + static_cast<T>(s.F) * sv + static_cast<T>(s.G) * sd + c * xx;
}

// One discrete momentum step. Shared part: call once per step, after the
// per-neuron updates have used the old values.
DS_HD ReducedShared momentum_step_shared(const ReducedShared& s, double mu, double gamma, double eta) {
    ReducedShared n;
    n.A = mu * s.A + gamma * s.F;
    n.B = mu * s.B + gamma * (1.0 + s.G);
    n.F = s.F - eta * n.A;
    n.G = s.G - eta * n.B;
    return n;
}

// Per neuron: e' = mu e + gamma c + (r - b), c' = c - eta e'.
template <class T>
DS_HD void momentum_step_neuron(T mu, T gamma, T eta, T r_minus_b, T& c, T& e) {
    e = mu * e + gamma * c + r_minus_b;
    c = c - eta * e;
}

// One weight (and its momentum) at the current point of a presentation, from
// its start values ws, vs, w0 and input x: the materialisation at the end of
// a presentation, and the weights a record reads inside one.
//   w = ws + F vs + G (ws - w0) + c x,   v = A vs + B (ws - w0) + e x.
template <class T>
DS_HD T reduced_weight(T ws, T vs, T w0, T F, T G, T c, T x) {
    return ws + F * vs + G * (ws - w0) + c * x;
}
template <class T>
DS_HD void materialize_discrete(T& w, T& v, T w0, T A, T B, T F, T G, T c, T e, T x) {
    const T ws = w, vs = v, d = ws - w0;
    w = ws + F * vs + G * d + c * x;
    v = A * vs + B * d + e * x;
}
// The part of materialize_discrete that is the same for every neuron, the
// map (w, v) -> ((1 + G) w + F v, B w + A v), applied to a pair of
// coefficients: the blocked path (src/core/block.cpp) folds presentations
// into its shared coefficients with it instead of touching every weight.
struct FoldPair {
    double w, v;
};
DS_HD FoldPair fold_map(const ReducedShared& s, double w, double v) {
    return FoldPair{(1.0 + s.G) * w + s.F * v, s.B * w + s.A * v};
}
// The same map for w0's pair of coefficients, which also takes
// materialize_discrete's -G w0 (into w) and -B w0 (into v).
DS_HD FoldPair fold_map_w0(const ReducedShared& s, double w, double v) {
    const FoldPair m = fold_map(s, w, v);
    return FoldPair{m.w - s.G, m.v - s.B};
}

// Continuous form (A = 1, B = F = e = 0): only w changes.
template <class T>
DS_HD void materialize_continuous(T& w, T w0, T G, T c, T x) {
    w = w + G * (w - w0) + c * x;
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
// The shared coordinate G over the same step: 1 + G decays with the gamma pull.
DS_HD double continuous_G(double G, double decay) { return -1.0 + (1.0 + G) * decay; }
// Right-hand sides of the continuous form for the adaptive/fixed-step solvers:
// dc/dt = -kappa ((r - b) + gamma c), dG/dt = -kappa gamma (1 + G).
template <class T>
DS_HD T continuous_dc_dt(T kappa, T gamma, T r_minus_b, T c) {
    return -kappa * (r_minus_b + gamma * c);
}
DS_HD double continuous_dG_dt(double kappa, double gamma, double G) { return -kappa * gamma * (1.0 + G); }

}  // namespace dynshare
