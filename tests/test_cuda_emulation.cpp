// SPDX-License-Identifier: BSD-3-Clause
// The CUDA emulator itself (src/cuda/emulation/): threads and blocks, the
// barrier, the warp shuffles, shared memory, atomics, and the misuse it must
// report instead of hanging or passing silently. Label cuda_emulated.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda/cuda_compat.hpp"  // not nvcc: the emulation

using dynshare::cuda::emu::launch;

namespace {

// Each thread writes its coordinates.
__global__ void coords_kernel(int* out) {
    const int t = static_cast<int>(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z));
    const int b = static_cast<int>(blockIdx.x + gridDim.x * blockIdx.y);
    const int nt = static_cast<int>(blockDim.x * blockDim.y * blockDim.z);
    out[b * nt + t] = 1000 * b + t;
}

// Block sum: warp shuffles, then the warps' partials through static shared
// memory; every thread writes the total.
__global__ void block_sum_kernel(const double* in, double* out) {
    __shared__ double partial[32];
    double v = in[blockIdx.x * blockDim.x + threadIdx.x];
    for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
    __syncthreads();
    double s = 0.0;
    for (unsigned w = 0; w < (blockDim.x + 31) / 32; ++w) s += partial[w];
    out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

// Reverses an array in dynamic shared memory.
__global__ void reverse_kernel(int* data, int n) {
    DS_EXTERN_SHARED(int, s);
    const int i = static_cast<int>(threadIdx.x);
    if (i < n) s[i] = data[i];
    __syncthreads();
    if (i < n) data[i] = s[n - 1 - i];
}

__global__ void shfl_kinds_kernel(int* out) {
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int base = static_cast<int>(threadIdx.x) * 4;
    out[base + 0] = __shfl_sync(0xffffffffu, lane * 10, 3);
    out[base + 1] = __shfl_down_sync(0xffffffffu, lane, 1);
    out[base + 2] = __shfl_up_sync(0xffffffffu, lane, 2);
    out[base + 3] = __shfl_xor_sync(0xffffffffu, lane, 1, 8);
}

__global__ void atomic_kernel(int* counter, double* sum) {
    atomicAdd(counter, 1);
    atomicAdd(sum, 0.5);
}

__global__ void divergent_barrier_kernel(int* out) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1;
}

__global__ void early_return_kernel(int* out) {
    if (threadIdx.x == 5) return;
    __syncthreads();
    out[threadIdx.x] = 1;
}

__global__ void partial_mask_kernel(int* out) {
    out[threadIdx.x] = __shfl_xor_sync(0x0000ffffu, static_cast<int>(threadIdx.x), 1);
}

__global__ void deadlock_kernel(int* out) {
    // Lane 0 waits at the block barrier, the other lanes of its warp at a shuffle.
    if (threadIdx.x == 0) __syncthreads();
    else out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1, 1);
}

__global__ void big_shared_kernel(int* out) {
    DS_EXTERN_SHARED(int, s);
    s[threadIdx.x] = 1;
    out[threadIdx.x] = s[threadIdx.x];
}

template <class T>
struct DeviceBuffer {
    T* p = nullptr;
    size_t n;
    explicit DeviceBuffer(size_t count) : n(count) { EXPECT_EQ(cudaMalloc(&p, n * sizeof(T)), cudaSuccess); }
    ~DeviceBuffer() { cudaFree(p); }
    std::vector<T> get() const {
        std::vector<T> h(n);
        EXPECT_EQ(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
        return h;
    }
    void put(const std::vector<T>& h) {
        EXPECT_EQ(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    }
};

// Launches a kernel that must fail; returns the error text.
template <class K>
std::string expect_launch_failure(K kernel, int threads) {
    DeviceBuffer<int> out(static_cast<size_t>(threads));
    launch(kernel, 1, threads, 0)(out.p);
    const cudaError_t e = cudaGetLastError();
    EXPECT_EQ(e, cudaErrorLaunchFailure);
    return cudaGetErrorString(e);
}

}  // namespace

TEST(EmulatedRuntime, ThreadAndBlockCoordinates) {
    const dim3 grid(3, 2), block(8, 4, 2);
    DeviceBuffer<int> out(6 * 64);
    launch(coords_kernel, grid, block, 0)(out.p);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    const std::vector<int> h = out.get();
    for (int b = 0; b < 6; ++b)
        for (int t = 0; t < 64; ++t) EXPECT_EQ(h[size_t(b) * 64 + t], 1000 * b + t);
}

TEST(EmulatedRuntime, WarpShufflesAndBarrierGiveTheBlockSum) {
    const int blocks = 3, threads = 96;
    std::vector<double> in(blocks * threads);
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<double>(i % 97) * 0.25;
    DeviceBuffer<double> din(in.size()), dout(in.size());
    din.put(in);
    launch(block_sum_kernel, blocks, threads, 0)(din.p, dout.p);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    const std::vector<double> out = dout.get();
    for (int b = 0; b < blocks; ++b) {
        double s = 0.0;
        for (int t = 0; t < threads; ++t) s += in[size_t(b) * threads + t];
        for (int t = 0; t < threads; ++t) EXPECT_DOUBLE_EQ(out[size_t(b) * threads + t], s);
    }
}

TEST(EmulatedRuntime, ShuffleVariantsFollowCudaSemantics) {
    DeviceBuffer<int> out(64 * 4);
    launch(shfl_kinds_kernel, 1, 64, 0)(out.p);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    const std::vector<int> h = out.get();
    for (int t = 0; t < 64; ++t) {
        const int lane = t % 32;
        EXPECT_EQ(h[t * 4 + 0], 30) << t;                              // lane 3's value
        EXPECT_EQ(h[t * 4 + 1], lane == 31 ? 31 : lane + 1) << t;       // beyond the warp: own value
        EXPECT_EQ(h[t * 4 + 2], lane < 2 ? lane : lane - 2) << t;
        EXPECT_EQ(h[t * 4 + 3], lane ^ 1) << t;                         // within segments of 8
    }
}

TEST(EmulatedRuntime, DynamicSharedMemoryIsPerBlockAndSized) {
    const int n = 50;
    std::vector<int> h(n);
    for (int i = 0; i < n; ++i) h[i] = i;
    DeviceBuffer<int> d(n);
    d.put(h);
    launch(reverse_kernel, 1, 64, n * sizeof(int))(d.p, n);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    const std::vector<int> r = d.get();
    for (int i = 0; i < n; ++i) EXPECT_EQ(r[i], n - 1 - i);
}

TEST(EmulatedRuntime, DynamicSharedMemoryAbove48KiBNeedsTheAttribute) {
    DeviceBuffer<int> out(32);
    const size_t big = 64 * 1024;
    launch(big_shared_kernel, 1, 32, big)(out.p);
    EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
    ASSERT_EQ(cudaFuncSetAttribute(big_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(big)),
              cudaSuccess);
    launch(big_shared_kernel, 1, 32, big)(out.p);
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);
    EXPECT_EQ(cudaFuncSetAttribute(big_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 300 * 1024),
              cudaErrorInvalidValue);
    EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);  // runtime errors are also the last error
    EXPECT_EQ(cudaGetLastError(), cudaSuccess);            // and reading it resets it
}

TEST(EmulatedRuntime, AtomicsFromEveryThread) {
    DeviceBuffer<int> counter(1);
    DeviceBuffer<double> sum(1);
    counter.put({0});
    sum.put({0.0});
    launch(atomic_kernel, 4, 128, 0)(counter.p, sum.p);
    ASSERT_EQ(cudaGetLastError(), cudaSuccess);
    EXPECT_EQ(counter.get()[0], 512);
    EXPECT_EQ(sum.get()[0], 256.0);
}

TEST(EmulatedRuntime, LaunchConfigurationIsChecked) {
    DeviceBuffer<int> out(2048);
    launch(coords_kernel, 1, 2048, 0)(out.p);
    EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
}

TEST(EmulatedRuntime, CopiesAreCheckedAgainstAllocations) {
    DeviceBuffer<int> d(4);
    std::vector<int> h(8, 1);
    EXPECT_EQ(cudaMemcpy(d.p, h.data(), 8 * sizeof(int), cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    EXPECT_EQ(cudaMemcpy(h.data(), h.data() + 4, 4 * sizeof(int), cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    EXPECT_EQ(cudaMemGetInfo(&free_b, &total_b), cudaSuccess);
    EXPECT_LE(free_b + 4 * sizeof(int), total_b);
}

TEST(EmulatedRuntime, DivergentSyncthreadsIsALaunchFailure) {
    const std::string msg = expect_launch_failure(divergent_barrier_kernel, 32);
    EXPECT_NE(msg.find("different __syncthreads call sites"), std::string::npos) << msg;
}

TEST(EmulatedRuntime, ReturningBeforeASyncthreadsOthersReachIsALaunchFailure) {
    const std::string msg = expect_launch_failure(early_return_kernel, 64);
    EXPECT_NE(msg.find("__syncthreads"), std::string::npos) << msg;
}

TEST(EmulatedRuntime, PartialShuffleMaskIsALaunchFailure) {
    const std::string msg = expect_launch_failure(partial_mask_kernel, 32);
    EXPECT_NE(msg.find("mask 0x0000ffff"), std::string::npos) << msg;
}

TEST(EmulatedRuntime, DeadlockIsALaunchFailure) {
    const std::string msg = expect_launch_failure(deadlock_kernel, 32);
    EXPECT_NE(msg.find("deadlock"), std::string::npos) << msg;
}
