// SPDX-License-Identifier: BSD-3-Clause
// Eq. 4, the idealised rule: every neuron of a module sees x_i, and
//   dw_i = -eta [ (z_i - mean_j z_j) x_i + gamma (w_i - w_i^init) ]   (+ momentum).
// The module mean stands for the lateral connections of Eq. 7.
//
// Written once as its parts: the centred drive z_i - zbar; the gradient of a
// batch of patterns presented at the same weights, sum_m (z_im - zbar_m) x_m
// + gamma (w_i - w_i^init), of which one pattern's gradient is the case
// M = 1; and the step on it. Templated on the weight scalar T: the CPU engine
// and the CUDA kernels call them per weight (T = float, double), the trainer
// on whole weight tensors (T = torch::Tensor, its sum over patterns a GEMM;
// src/trainer/sharing.cpp), so the coefficients (the decay, the pull-back to
// w^init) live here only.
#pragma once
#include "dynshare/hostdevice.hpp"

namespace dynshare {

// The centred drive of a neuron: z_i - mean_j z_j over its module.
template <class T>
DS_HD T ideal_centered(const T& z, const T& zbar) {
    return z - zbar;
}

// Gradient of a weight for a batch of patterns presented at the same weights:
//   hebb_sum + gamma (w - w0),  hebb_sum = sum_m (z_im - zbar_m) x_mj,
// the pull-back counted once per batch. S: the coefficient's scalar type.
template <class T, class S>
DS_HD T ideal_batch_grad(const T& hebb_sum, const T& w, const T& w0, S gamma) {
    return hebb_sum + gamma * (w - w0);
}

// One batch step without momentum: w <- w - eta (hebb_sum + gamma (w - w0)).
// In place (-=): on a tensor it updates the weights it views.
template <class T, class S>
DS_HD void ideal_batch_step(T& w, const T& w0, const T& hebb_sum, S gamma, S eta) {
    w -= eta * ideal_batch_grad(hebb_sum, w, w0, gamma);
}

// Gradient of one weight for one pattern (a batch of one):
//   (z_i - zbar) x_ij + gamma (w_ij - w0_ij).
template <class T>
DS_HD T ideal_grad(T z, T zbar, T x, T w, T w0, T gamma) {
    return ideal_batch_grad(ideal_centered(z, zbar) * x, w, w0, gamma);
}

// One momentum iteration of one weight: v <- mu v + grad, w <- w - eta v.
template <class T>
DS_HD void ideal_weight_step(T& w, T& v, T w0, T x, T z, T zbar, T mu, T gamma, T eta) {
    v = mu * v + ideal_grad(z, zbar, x, w, w0, gamma);
    w = w - eta * v;
}

}  // namespace dynshare
