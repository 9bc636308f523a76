// SPDX-License-Identifier: BSD-3-Clause
// Eq. 4, the idealised rule: every neuron of a module sees x_i, and
//   dw_i = -eta [ (z_i - mean_j z_j) x_i + gamma (w_i - w_i^init) ]   (+ momentum).
// The module mean stands for the lateral connections of Eq. 7.
// Templated on the weight scalar T; the CPU engine and the CUDA kernels call it.
#pragma once
#include "dynshare/hostdevice.hpp"

namespace dynshare {

// Gradient of one weight: (z_i - zbar) x_ij + gamma (w_ij - w0_ij).
template <class T>
DS_HD T ideal_grad(T z, T zbar, T x, T w, T w0, T gamma) {
    return (z - zbar) * x + gamma * (w - w0);
}

// One momentum iteration of one weight: v <- mu v + grad, w <- w - eta v.
template <class T>
DS_HD void ideal_weight_step(T& w, T& v, T w0, T x, T z, T zbar, T mu, T gamma, T eta) {
    v = mu * v + ideal_grad(z, zbar, x, w, w0, gamma);
    w = w - eta * v;
}

}  // namespace dynshare
