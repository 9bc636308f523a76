// SPDX-License-Identifier: BSD-3-Clause
// The per-element formulas of a stacked plan's inputs (include/dynshare/plan.hpp,
// "Border inputs"): the value a receptive field reads at an input pixel, with
// zero padding or the pattern's periodic continuation, and the per-neuron
// noise on it. Written once for host and device: the CUDA kernels
// (src/cuda/stack_kernels.cu) call these; src/core/stack_patterns.cpp
// (StackPatterns::gather_field) gathers whole rows with its own loops and
// wraps with stack_wrap.
#pragma once
#include "dynshare/hostdevice.hpp"

namespace dynshare {

// Index i into [0, n) by whole periods P (stack.border = periodic; n >= P is
// validated by make_stack_plan). Unchanged when already inside.
DS_HD int stack_wrap(int i, int n, int P) {
    return i < 0 ? i + P * ((-i + P - 1) / P) : i >= n ? i - P * ((i - n) / P + 1) : i;
}

template <class T>
struct ReceptiveInput {
    T value;    // the pattern's value there (0 in the zero padding)
    bool real;  // an existing input (periodic: always): noise is added to real inputs only
};

// Pixel (ci, iy, ix) of a pattern laid out (c_in, h_in, w_in), as a receptive
// field sees it: iy, ix may lie in the padding.
template <class T>
DS_HD ReceptiveInput<T> stack_receptive_input(const T* pattern, int h_in, int w_in, int in_period, int ci, int iy,
                                              int ix, bool periodic) {
    const bool inside = iy >= 0 && iy < h_in && ix >= 0 && ix < w_in;
    if (inside) return ReceptiveInput<T>{pattern[(static_cast<long long>(ci) * h_in + iy) * w_in + ix], true};
    if (!periodic) return ReceptiveInput<T>{T(0), false};
    const int y = stack_wrap(iy, h_in, in_period), x = stack_wrap(ix, w_in, in_period);
    return ReceptiveInput<T>{pattern[(static_cast<long long>(ci) * h_in + y) * w_in + x], true};
}

// x_ij = field + noise_std * xi on real inputs; the zero padding stays 0.
template <class T>
DS_HD T stack_noisy_input(const ReceptiveInput<T>& in, T noise_std, double normal) {
    return in.real ? in.value + noise_std * static_cast<T>(normal) : T(0);
}

}  // namespace dynshare
