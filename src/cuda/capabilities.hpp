// SPDX-License-Identifier: BSD-3-Clause
// What the CUDA backend runs, in one place: the kernel method of a config (or
// a one-line UserError naming the key and saying to use --backend cpu), and
// Backend::check's whole test (method, then, for stacks, the device memory
// against what is free, before anything is allocated or any output touched).
#pragma once
#include <cstddef>

#include "cuda/kernels.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/config.hpp"
#include "dynshare/plan.hpp"

namespace dynshare {

// The kernel method of a single-layer config, or UserError for what the
// device does not run (stacks, too many neurons or inputs, integrators).
int layer_method_of(const SimConfig& cfg);

// The kernel method of a stacked config (method_euler or method_exponential),
// or UserError naming the key for what the device does not run for stacks.
int stack_method_of(const SimConfig& cfg);

// UserError unless the device can run the config: its method, then (stacks)
// one run's memory against what the device has free: "... needs N bytes of
// device memory ... M bytes are available".
void check_device_config(const cuda::DeviceApi& dev, const SimConfig& cfg, const RunPlan& plan,
                         DevicePrecision precision);

}  // namespace dynshare
