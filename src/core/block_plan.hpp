// SPDX-License-Identifier: BSD-3-Clause
// The blocked layers of a plan as the engine runs them, and the memory they
// take, in one place: the engine's run_block takes the layers one after
// another (start, presentations, end), so one set of drives (BlockDrives,
// core/block.hpp), sized for the largest layer, serves them all. The memory
// estimate (run_memory_bytes, core/engine.cpp) counts from here what
// setup_blocked_layers allocates; tests/test_block_memory.cpp checks the two
// against each other (BlockedLayer::held).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/block.hpp"
#include "core/input_source.hpp"
#include "dynshare/plan.hpp"

namespace dynshare {

// Sets up one BlockedLayer per layer of `plan`, blocks of at most max_p
// presentations, all sharing one BlockDrives. False (and `layers` empty)
// when a layer's inputs cannot be blocked (InputSource::block_groups).
template <class T>
bool setup_blocked_layers(const RunPlan& plan, InputSource<T>& source, int64_t max_p, bool momentum,
                          std::vector<BlockedLayer<T>>& layers);

// The bytes BlockedLayer::setup gives a layer of n neurons with k inputs in
// `groups` groups (`identity`: one group in neuron order, no member list),
// values of value_bytes each (BlockedLayer::held counts the same arrays).
BlockBytes block_layer_bytes(int64_t n, int64_t k, int64_t groups, bool identity, int64_t max_p, bool momentum,
                             size_t value_bytes);

// One thread's scratch in a block boundary (BlockedLayer::boundary in
// core/block.cpp: its coefficient, weight, output and input chunks).
long double block_scratch_bytes(int64_t k, int64_t max_p, bool momentum, size_t value_bytes);

// The number of block groups of each layer of `plan`: 1 for a single layer,
// a stacked layer's from its geometry (stack_block_group_count).
std::vector<int64_t> block_group_counts(const RunPlan& plan);

// What setup_blocked_layers allocates for `plan` (every layer's own arrays,
// the drives once, for the largest layer), plus, with `threads` > 0, that
// many threads' boundary scratch for the widest layer.
long double blocked_plan_bytes(const RunPlan& plan, int64_t max_p, bool momentum, size_t value_bytes, int threads);

extern template bool setup_blocked_layers<double>(const RunPlan&, InputSource<double>&, int64_t, bool,
                                                  std::vector<BlockedLayer<double>>&);
extern template bool setup_blocked_layers<float>(const RunPlan&, InputSource<float>&, int64_t, bool,
                                                 std::vector<BlockedLayer<float>>&);

}  // namespace dynshare
