// SPDX-License-Identifier: BSD-3-Clause
// What a run says, for every backend: the checks of its starting weights
// (given, drawn or from a checkpoint) and their messages, and how a
// divergence ends a run (RunResult's status, step and message). The CPU
// engine (src/core/engine.cpp) and the CUDA runners (src/cuda/stack_runner.cpp,
// src/cuda/cuda_backend.cpp) report through these, so the messages are
// written once. Where divergence is *detected*: the CPU in engine.cpp
// (state_finite, LayerSnr::finite), the device in the kernels
// (layer_kernels.cu's chunk_kernel flags, stack_kernels.cu's end/snr partials).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dynshare/engine.hpp"
#include "dynshare/plan.hpp"
#include "dynshare/run_observer.hpp"

namespace dynshare {

// "layer l" for stacks, "the layer" for a single layer.
std::string layer_name(const RunPlan& plan, int l);

// The engine's checks before a run: the number of layers given (initial
// weights; empty = drawn from the seed, not checked) or held by a checkpoint,
// and each layer's sizes. UserError with the one message for each.
void check_run_start(const RunPlan& plan, const std::vector<std::vector<double>>& initial, const RunState* resume);

// Why a run diverged (the `where` of diverge()).
std::string nonfinite_during(int64_t p, int64_t step_end, int64_t steps_per_presentation);
std::string overflow_at(int64_t step, int64_t p);

// Ends the run as diverged at at_step: status, step and message
// ("layer l: " for stacks, then `where`, then the advice).
void report_divergence(RunResult& result, bool stack, int l, int64_t at_step, const std::string& where);

}  // namespace dynshare
