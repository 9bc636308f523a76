// SPDX-License-Identifier: BSD-3-Clause
// Where each layer's inputs come from, the one thing in which plans differ:
// a single layer draws one x per presentation (plus per-neuron noise); a
// stack tiles a random patch over its first layer and propagates module
// means upwards (stack_patterns.hpp). The engine (engine.cpp) asks for
// begin_presentation(p), then layer_inputs(p, l) layer after layer (each may
// run in a task while lower layers integrate), then reads inputs(l).
#pragma once
#include <cstdint>
#include <memory>

#include "core/block.hpp"
#include "core/layer_block.hpp"
#include "dynshare/config.hpp"
#include "dynshare/plan.hpp"

namespace dynshare {

template <class T>
class InputSource {
public:
    virtual ~InputSource() = default;
    // Presentation p's draws that precede every layer (serial).
    virtual void begin_presentation(int64_t p) = 0;
    // Layer l's inputs for presentation p, from the layer's weights at the
    // presentation start (stacks: z_i = w_i . x_i feeds layer l + 1's pattern).
    virtual void layer_inputs(int64_t p, int l, const LayerBlock<T>& block) = 0;
    // Layer l's inputs, valid until the next begin_presentation().
    virtual InputView<T> inputs(int l) const = 0;

    // Blocked presentations (core/block.hpp), instead of layer_inputs/inputs:
    // the neurons of layer l that share one input row in every presentation;
    // false when inputs differ per neuron (input noise): that layer then runs
    // presentation by presentation.
    virtual bool block_groups(int l, InputGroups& out) = 0;
    // Layer l's inputs of presentation p (after begin_presentation(p) and,
    // for l > 0, block_drives(p, l - 1, ...)); group g's row is group_row(l, g).
    virtual void block_inputs(int64_t p, int l) = 0;
    virtual const T* group_row(int l, int64_t g) const = 0;
    // Layer l's drives z (block order) at presentation p's start: the next
    // layer's pattern of presentation p (stacks; nothing for one layer).
    virtual void block_drives(int64_t p, int l, const T* z) = 0;
};

// The plan's input source: SingleLayerSource (inputs.cpp) or StackPatterns.
template <class T>
std::unique_ptr<InputSource<T>> make_input_source(const SimConfig& cfg, const RunPlan& plan);

}  // namespace dynshare
