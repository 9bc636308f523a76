// SPDX-License-Identifier: BSD-3-Clause
// Block-wide sums and maxima for the kernels of both .cu files
// (layer_kernels.cu, stack_kernels.cu); blockDim.x a multiple of 32. One
// __syncthreads per call: the warps' partials go to one of two buffers,
// alternately, so a call never overwrites partials that a slower warp may
// still be reading from the previous call. Every thread gets the same total:
// the warp sums by shuffles, then the warps' partials added in warp order by
// every thread (a fixed order, not the CPU's: see docs/gpu_emulation.md).
// Included by .cu files only (device code; built as host C++ by the emulator).
#pragma once
#include "cuda/cuda_compat.hpp"

namespace dynshare {
namespace cuda {

// Doubles of shared memory a BlockReducer needs: parity x pair x warp.
constexpr int kBlockReduceSlots = 2 * 2 * 32;

__device__ inline double warp_sum(double v) {
    for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}
__device__ inline float warp_sum(float v) {
    for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}

struct BlockReducer {
    double* buf;  // kBlockReduceSlots doubles of shared memory
    int parity = 0;
    int nwarps, warp, lane;

    __device__ explicit BlockReducer(double* b) : buf(b) {
        nwarps = static_cast<int>(blockDim.x + 31) / 32;
        warp = static_cast<int>(threadIdx.x) / 32;
        lane = static_cast<int>(threadIdx.x) % 32;
    }
    template <class T>
    __device__ T sum(T v) {
        v = warp_sum(v);
        double* p = buf + parity * 64;
        if (lane == 0) p[warp] = static_cast<double>(v);
        __syncthreads();
        T s = 0;
        for (int w = 0; w < nwarps; ++w) s += static_cast<T>(p[w]);
        parity ^= 1;
        return s;
    }
    template <class T>
    __device__ void sum2(T& a, T& b) {
        a = warp_sum(a);
        b = warp_sum(b);
        double* p = buf + parity * 64;
        if (lane == 0) {
            p[warp] = static_cast<double>(a);
            p[32 + warp] = static_cast<double>(b);
        }
        __syncthreads();
        T sa = 0, sb = 0;
        for (int w = 0; w < nwarps; ++w) {
            sa += static_cast<T>(p[w]);
            sb += static_cast<T>(p[32 + w]);
        }
        a = sa;
        b = sb;
        parity ^= 1;
    }
    __device__ double max(double v) {
        for (int m = 16; m > 0; m >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, m));
        double* p = buf + parity * 64;
        if (lane == 0) p[warp] = v;
        __syncthreads();
        double s = p[0];
        for (int w = 1; w < nwarps; ++w) s = fmax(s, p[w]);
        parity ^= 1;
        return s;
    }
};

}  // namespace cuda
}  // namespace dynshare
