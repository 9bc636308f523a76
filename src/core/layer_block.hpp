// The state of one layer that persists between presentations: weights,
// momentum, rates. Neurons are stored module by module (module m holds
// neurons [offsets[m], offsets[m+1])) so every lateral mean is a contiguous sum.
#pragma once
#include <cstdint>
#include <vector>

namespace dynshare {

struct LayerBlock {
    int64_t n = 0;                        // neurons
    int64_t k = 0;                        // inputs per neuron (k^2 for one layer, fan_in for LC)
    std::vector<int64_t> module_offsets;  // size modules + 1
    std::vector<double> w, w0, v;         // n x k, row-major
    std::vector<double> r;                // excitatory rates (ei_rate)
    std::vector<double> r_inh;            // one inhibitory rate per module

    int64_t modules() const { return static_cast<int64_t>(module_offsets.size()) - 1; }

    // n neurons in modules of the given sizes; rates start at the bias, r_inh at 0.
    void resize(int64_t neurons, int64_t inputs, const std::vector<int64_t>& offsets, double bias);
};

// The inputs of one presentation: neuron i sees x + i * stride (stride 0: all
// share x), or rows[i] when a row table is given (neurons that share a
// receptive field point at one copy of it: stacked LC layers without noise).
struct InputView {
    const double* x = nullptr;
    int64_t stride = 0;
    const double* const* rows = nullptr;
    const double* row(int64_t i) const { return rows ? rows[i] : x + i * stride; }
};

}  // namespace dynshare
