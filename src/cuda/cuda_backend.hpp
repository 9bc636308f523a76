// SPDX-License-Identifier: BSD-3-Clause
// The CUDA backend on a chosen device (src/cuda/cuda_backend.cpp: the Backend
// adapter over the runners src/cuda/layer_runner.cpp and stack_runner.cpp).
// make_cuda_backend() (include/dynshare/backend.hpp) is this on the GPU;
// make_cuda_backend_emulated() is the same host code and the same kernel
// sources on the CPU emulator (src/cuda/emulation/, docs/gpu_emulation.md):
// for tests, never a substitute for a device run.
#pragma once
#include <memory>

#include "cuda/kernels.hpp"
#include "dynshare/backend.hpp"

namespace dynshare {

std::unique_ptr<Backend> make_cuda_backend_on(const cuda::DeviceApi& device, DevicePrecision precision);

// run.precision: fp32 or fp64 as asked; auto: `fallback` (the backend's default).
DevicePrecision device_precision(const SimConfig& c, DevicePrecision fallback);

// For run.precision = auto: fp32 unless DYNSHARE_CUDA_PRECISION=fp64 (UserError
// for anything but fp32, fp64 or unset).
DevicePrecision cuda_precision_from_env();

// Library dynshare_cuda_emulated.
std::unique_ptr<Backend> make_cuda_backend_emulated(DevicePrecision precision);
std::unique_ptr<Backend> make_cuda_backend_emulated();  // precision from the environment, as make_cuda_backend()

}  // namespace dynshare
