// SPDX-License-Identifier: BSD-3-Clause
// The card's ceilings, measured in the same process as the benchmark
// (bench/gpu/bench_cuda.cpp): device-to-device copy bandwidth and fp32 FMA rate.
#include "cuda/cuda_compat.hpp"

#include "cuda/kernels.hpp"

namespace dynshare {
namespace cuda {

namespace {

__global__ void copy_kernel(const float4* __restrict__ in, float4* __restrict__ out, size_t n) {
    for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<size_t>(gridDim.x) * blockDim.x)
        out[i] = in[i];
}

// 8 independent FMA chains per thread, `iters` rounds: 16 * iters FLOP per thread.
__global__ void fma_kernel(float* out, int iters, float a, float b) {
    float x[8];
    for (int c = 0; c < 8; ++c) x[c] = threadIdx.x * 1e-3f + c;
    for (int it = 0; it < iters; ++it) {
#pragma unroll
        for (int c = 0; c < 8; ++c) x[c] = fmaf(x[c], a, b);
    }
    float s = 0.f;
    for (int c = 0; c < 8; ++c) s += x[c];
    if (s == 1234.5f) out[threadIdx.x] = s;  // never true in practice; keeps the chains alive
}

const char* err(cudaError_t e) { return e == cudaSuccess ? nullptr : cudaGetErrorString(e); }

}  // namespace

namespace DYNSHARE_KERNEL_NS {

const char* measure_copy_bandwidth(double seconds_target, double* bytes_per_s) {
    const size_t bytes = size_t(1) << 30;  // 1 GiB each way: well beyond the L2
    const size_t n = bytes / sizeof(float4);
    float4 *a = nullptr, *b = nullptr;
    cudaError_t e = cudaMalloc(&a, bytes);
    if (e != cudaSuccess) return err(e);
    e = cudaMalloc(&b, bytes);
    if (e != cudaSuccess) {
        cudaFree(a);
        return err(e);
    }
    cudaMemset(a, 0, bytes);
    int sms = 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    cudaEvent_t t0, t1;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    DS_LAUNCH(copy_kernel, sms * 8, 512, 0)(a, b, n);  // warm-up
    cudaEventRecord(t0);
    int reps = 0;
    float ms = 0.f;
    do {
        DS_LAUNCH(copy_kernel, sms * 8, 512, 0)(a, b, n);
        ++reps;
        cudaEventRecord(t1);
        cudaEventSynchronize(t1);
        cudaEventElapsedTime(&ms, t0, t1);
    } while (ms < seconds_target * 1e3 && reps < 1000);
    e = cudaGetLastError();
    *bytes_per_s = 2.0 * static_cast<double>(bytes) * reps / (ms * 1e-3);
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    cudaFree(a);
    cudaFree(b);
    return err(e);
}

const char* measure_fp32_rate(double seconds_target, double* flop_per_s) {
    float* out = nullptr;
    cudaError_t e = cudaMalloc(&out, 1024 * sizeof(float));
    if (e != cudaSuccess) return err(e);
    int sms = 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    const int blocks = sms * 16, threads = 256, iters = 1 << 14;
    cudaEvent_t t0, t1;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    DS_LAUNCH(fma_kernel, blocks, threads, 0)(out, 16, 0.999f, 1e-4f);  // warm-up
    cudaEventRecord(t0);
    int reps = 0;
    float ms = 0.f;
    do {
        DS_LAUNCH(fma_kernel, blocks, threads, 0)(out, iters, 0.999f, 1e-4f);
        ++reps;
        cudaEventRecord(t1);
        cudaEventSynchronize(t1);
        cudaEventElapsedTime(&ms, t0, t1);
    } while (ms < seconds_target * 1e3 && reps < 1000);
    e = cudaGetLastError();
    *flop_per_s = 16.0 * iters * static_cast<double>(blocks) * threads * reps / (ms * 1e-3);
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    cudaFree(out);
    return err(e);
}

}  // namespace DYNSHARE_KERNEL_NS
}  // namespace cuda
}  // namespace dynshare
