// SPDX-License-Identifier: BSD-3-Clause
// Built when the CUDA backend is not: says so at run time.
#include "dynshare/backend.hpp"

namespace dynshare {

bool cuda_usable(std::string* why) {
    if (why) *why = "dynshare was built without the CUDA backend (no nvcc at configure time)";
    return false;
}

std::unique_ptr<Backend> make_cuda_backend() { return nullptr; }
std::unique_ptr<Backend> make_cuda_backend(DevicePrecision) { return nullptr; }

}  // namespace dynshare
