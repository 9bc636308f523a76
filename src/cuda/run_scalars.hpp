// SPDX-License-Identifier: BSD-3-Clause
// A run's per-run device parameters (cuda::RunScalars, src/cuda/kernels.hpp)
// from its config and StepParams: one function for the single-layer and the
// stacked runners (the kernels turn them back into the models/ rules with
// src/cuda/run_rules.cuh).
#pragma once
#include "core/step_params.hpp"
#include "cuda/kernels.hpp"
#include "dynshare/config.hpp"

namespace dynshare {

// sp: the layer's own StepParams (plasticity.lr_scaling, a frozen layer).
cuda::RunScalars run_scalars(const SimConfig& cfg, const StepParams& sp);

}  // namespace dynshare
