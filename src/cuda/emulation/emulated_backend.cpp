// SPDX-License-Identifier: BSD-3-Clause
// The CUDA backend on the CPU emulator: the host side of src/cuda/cuda_backend.cpp
// on cuda::emulated::api(), i.e. src/cuda/*.cu built as host C++.
#include "cuda/cuda_backend.hpp"

namespace dynshare {

std::unique_ptr<Backend> make_cuda_backend_emulated(DevicePrecision precision) {
    return make_cuda_backend_on(cuda::emulated::api(), precision);
}

std::unique_ptr<Backend> make_cuda_backend_emulated() { return make_cuda_backend_emulated(cuda_precision_from_env()); }

}  // namespace dynshare
