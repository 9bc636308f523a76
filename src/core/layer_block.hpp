// SPDX-License-Identifier: BSD-3-Clause
// The state of one layer that persists between presentations: weights,
// momentum, rates, in the neurons' scalar T (double, or float for
// run.precision = fp32). Neurons are stored module by module (module m holds
// neurons [offsets[m], offsets[m+1])) so every lateral mean is a contiguous sum.
#pragma once
#include <cstdint>
#include <vector>

#include "core/first_touch.hpp"

namespace dynshare {

template <class T>
struct LayerBlock {
    int64_t n = 0;                        // neurons
    int64_t k = 0;                        // inputs per neuron (k^2 for one layer, fan_in for LC)
    std::vector<int64_t> module_offsets;  // size modules + 1
    std::vector<T> w, w0;                 // n x k, row-major
    ZeroVector<T> v;                      // n x k, row-major; zero at the start (first_touch.hpp)
    std::vector<T> r;                     // excitatory rates (ei_rate)
    std::vector<T> r_inh;                 // one inhibitory rate per module

    int64_t modules() const { return static_cast<int64_t>(module_offsets.size()) - 1; }

    // n neurons in modules of the given sizes; rates start at the bias, r_inh at 0.
    // zero_weights false: w and w0 are left empty for the caller to fill
    // (one pass over them instead of a zero pass and a copy). v is zero from
    // calloc, without a zero pass; written_v false (the continuous form, where
    // v stays zero unless a resumed state sets it): its pages are not
    // prefaulted, so a run that never writes them never faults them in.
    void resize(int64_t neurons, int64_t inputs, const std::vector<int64_t>& offsets, double bias,
                bool zero_weights = true, bool written_v = true) {
        n = neurons;
        k = inputs;
        module_offsets = offsets;
        const size_t nk = static_cast<size_t>(n * k);
        if (zero_weights) {
            assign_populated(w, nk, T(0));
            assign_populated(w0, nk, T(0));
        } else {
            w.clear();
            w0.clear();
        }
        zero_sized(v, nk, written_v);
        r.assign(n, static_cast<T>(bias));
        r_inh.assign(modules(), T(0));
    }
};

// The inputs of one presentation: neuron i sees x + i * stride (stride 0: all
// share x), or rows[i] when a row table is given (neurons that share a
// receptive field point at one copy of it: stacked LC layers without noise).
template <class T>
struct InputView {
    const T* x = nullptr;
    int64_t stride = 0;
    const T* const* rows = nullptr;
    const T* row(int64_t i) const { return rows ? rows[i] : x + i * stride; }
};

}  // namespace dynshare
