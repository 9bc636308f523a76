// SPDX-License-Identifier: BSD-3-Clause
// The DeviceApi of one build of the kernel sources (src/cuda/cuda_compat.hpp):
// the runtime's memory calls and the kernels' entry points, behind the plain
// table that the host side (src/cuda/cuda_backend.cpp and its runners) runs
// on. Compiled by nvcc (cuda::device::api(), a GPU) and as host C++ (cuda::emulated::api(),
// the emulator in src/cuda/emulation/).
#include "cuda/cuda_compat.hpp"

#include <string>

#include "cuda/kernels.hpp"

namespace dynshare {
namespace cuda {
namespace DYNSHARE_KERNEL_NS {

namespace {

const char* err(cudaError_t e) { return e == cudaSuccess ? nullptr : cudaGetErrorString(e); }

const char* usable() {
    thread_local std::string why;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        why = std::string("no usable CUDA device (") + cudaGetErrorString(e);
        if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice)
            why += ": no NVIDIA GPU/driver here, or a driver older than the CUDA runtime";
        why += ")";
        cudaGetLastError();
        return why.c_str();
    }
    if (count == 0) return "no CUDA device found";
    void* p = nullptr;
    e = cudaMalloc(&p, 256);
    if (e != cudaSuccess) {
        why = std::string("CUDA device not usable: allocating 256 bytes failed (") + cudaGetErrorString(e) + ")";
        cudaGetLastError();
        return why.c_str();
    }
    cudaFree(p);
    return nullptr;
}

const char* alloc(void** p, size_t bytes) { return err(cudaMalloc(p, bytes)); }
void release(void* p) { cudaFree(p); }
const char* to_device(void* dst, const void* src, size_t bytes) {
    return err(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}
const char* to_host(void* dst, const void* src, size_t bytes) {
    return err(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}
const char* mem_info(size_t* free_bytes, size_t* total_bytes) { return err(cudaMemGetInfo(free_bytes, total_bytes)); }

#if defined(__CUDACC__)
constexpr const char* kName = "cuda";
#else
constexpr const char* kName = "cuda-emulated";
#endif

}  // namespace

const DeviceApi& api() {
    static const DeviceApi a{kName,
                             &usable,
                             &alloc,
                             &release,
                             &to_device,
                             &to_host,
                             &mem_info,
                             &run_chunk<float>,
                             &run_chunk<double>,
                             &input_covariance,
                             &measure_copy_bandwidth,
                             &measure_fp32_rate,
                             &stack_launch<float>,
                             &stack_launch<double>};
    return a;
}

}  // namespace DYNSHARE_KERNEL_NS
}  // namespace cuda
}  // namespace dynshare
