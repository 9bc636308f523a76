// SPDX-License-Identifier: BSD-3-Clause
// The inputs of a stacked plan (include/dynshare/plan.hpp): each presentation
// the first layer's input is a random patch (c_in, P0, P0) tiled over the
// input; layer l's receptive fields of its input pattern (zero padding, or
// the periodic continuation), plus per-neuron noise, are its neurons' x_i;
// phi(module mean of z), z_i = w_i . x_i, is layer l + 1's pattern.
//
// Random draws (Philox, key (seed, stream)): the first layer's patch of
// presentation p uses Stream::input (p, p >> 32) like the single-layer x;
// the noise of neuron n (LC index) of layer l uses Stream::input_noise
// (p, l << 24 | n); the module drive Stream::module_drive (p, l).
#pragma once
#include <vector>

#include "core/input_source.hpp"
#include "dynshare/philox.hpp"

namespace dynshare {

template <class T>
class StackPatterns : public InputSource<T> {
public:
    StackPatterns(const SimConfig& cfg, const RunPlan& plan);

    void begin_presentation(int64_t p) override;  // the first layer's tiled patch
    void layer_inputs(int64_t p, int l, const LayerBlock<T>& b) override;
    // With noise every neuron has its own row; without, neurons point at
    // their position's receptive field (one copy per position).
    InputView<T> inputs(int l) const override;
    // Groups: positions whose receptive fields coincide by geometry (the same
    // input offsets modulo the input pattern's period, the same taps in the
    // zero padding), with all their channels. None with input noise.
    bool block_groups(int l, InputGroups& out) override;
    void block_inputs(int64_t p, int l) override;
    const T* group_row(int l, int64_t g) const override;
    void block_drives(int64_t p, int l, const T* z) override;

private:
    void gather_field(int l, int64_t q, T* row) const;  // receptive field of output position q
    std::vector<std::vector<int64_t>> reps_;   // per layer: a representative position of each group
    std::vector<std::vector<T>> group_rows_;   // per layer: groups x fan_in
    void propagate(int l, int64_t presentation, const T* z);  // z: layer l's drives, block order
    void add_drive(int l, int64_t p);

    const RunPlan& plan_;
    RngKey key_;
    double noise_;
    std::vector<std::vector<T>> x_, pin_, z_;
    std::vector<std::vector<T>> pos_;          // per layer: receptive field of each output position
    std::vector<std::vector<const T*>> rows_;  // per layer: each neuron's input row (no noise)
    std::vector<double> patch_, drive_;
    std::vector<T> means_;
};

// The number of block groups of stacked layer l (StackPatterns::block_groups
// without noise), from the plan alone: for the memory estimate.
int64_t stack_block_group_count(const RunPlan& plan, int l);

extern template class StackPatterns<double>;
extern template class StackPatterns<float>;

}  // namespace dynshare
