// SPDX-License-Identifier: BSD-3-Clause
// The random draws of a single-layer run, each a pure function of
// (seed, stream, presentation, neuron) through Philox: any presentation can
// be regenerated alone (resume, theory minimum, GPU backend).
#pragma once
#include <cstdint>
#include <vector>

#include "dynshare/config.hpp"
#include "dynshare/philox.hpp"

namespace dynshare {

class SingleLayerInputs {
public:
    SingleLayerInputs(const SimConfig& cfg);
    // Inputs of presentation p: one shared x (stride 0), or one row per
    // neuron when input.noise_std > 0. Returns the row stride.
    int64_t fill(int64_t p, std::vector<double>& x) const;
    // The shared x of presentation p (without per-neuron noise).
    void shared(int64_t p, double* x) const;
    // Initial weights init_mean + init_std * N(0,1), n x k.
    std::vector<double> initial_weights() const;
    // C = (1/P) sum_p x_p x_p^T over presentations [0, P), shared x only.
    std::vector<double> covariance(int64_t presentations) const;

private:
    RngKey key_;
    int64_t n_, k_;
    double noise_std_, init_mean_, init_std_;
};

}  // namespace dynshare

#include "core/input_source.hpp"

namespace dynshare {

// The input source of a single-layer plan: presentation p's x (stride 0), or
// one row per neuron with input.noise_std > 0 (stride k), in T.
template <class T>
class SingleLayerSource : public InputSource<T> {
public:
    explicit SingleLayerSource(const SimConfig& cfg)
        : n_(cfg.layer.neurons), noise_(cfg.input.noise_std > 0), inputs_(cfg) {}
    void begin_presentation(int64_t p) override;
    void layer_inputs(int64_t, int, const LayerBlock<T>&) override {}
    InputView<T> inputs(int) const override;
    bool block_groups(int, InputGroups& out) override;
    void block_inputs(int64_t, int) override {}
    const T* group_row(int, int64_t) const override { return inputs(0).x; }
    void block_drives(int64_t, int, const T*) override {}

private:
    int64_t n_;
    bool noise_;
    SingleLayerInputs inputs_;
    std::vector<double> x_;
    std::vector<T> xt_;  // x_ in T (fp32 only)
    int64_t stride_ = 0;
};

}  // namespace dynshare
