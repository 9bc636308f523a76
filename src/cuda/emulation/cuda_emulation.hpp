// SPDX-License-Identifier: BSD-3-Clause
// A host emulation of the parts of CUDA that src/cuda/*.cu use, so that the
// same kernel sources nvcc compiles also build as host C++ and run on the CPU
// (library dynshare_cuda_emulated; docs/gpu_emulation.md says what it checks
// and what it cannot). Included by src/cuda/cuda_compat.hpp when the compiler
// is not nvcc; never together with <cuda_runtime.h>.
//
//  - Qualifiers: __global__, __device__, __host__, __forceinline__ and
//    __launch_bounds__ vanish; a static `__shared__ T a[N]` becomes a static
//    array (blocks run one at a time, so one instance is one block's); dynamic
//    shared memory is DS_EXTERN_SHARED(T, name) (cuda_compat.hpp), a buffer of
//    exactly the launch's size per block.
//  - A launch runs the grid's blocks one after another; each block's threads
//    are real std::threads. __syncthreads() is a reusable barrier over every
//    thread of the block (arrivals counted under a mutex, waiters asleep on a
//    generation word); the warp intrinsics exchange through per-warp storage
//    with a barrier over the warp's 32 lanes.
//  - Misuse that the hardware would hang on or leave undefined is reported as
//    a launch failure (cudaErrorLaunchFailure, with the reason on stderr and in
//    cudaGetErrorString): threads of a block at different __syncthreads (or
//    shuffle) call sites, a thread returning while others still wait at or
//    will reach a __syncthreads, a shuffle mask that is not the warp's every
//    lane, a deadlock (every live thread waiting on a barrier that cannot
//    complete).
//  - Runtime calls: device memory is host memory (exactly the size asked, so
//    AddressSanitizer sees overruns), copies are memcpy checked against the
//    allocations, the launch is synchronous, errors are those of the runtime.
#pragma once
#if defined(__CUDACC__)
#error "cuda_emulation.hpp is for host C++ builds of src/cuda/*.cu; nvcc uses <cuda_runtime.h>"
#endif

#include <math.h>  // the C++ wrapper: isfinite, fmin, fmax ... in the global namespace, as CUDA has them

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- qualifiers ------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

// ---- vector types and built-in variables ------------------------------------
struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
};
struct alignas(8) float2 {
    float x, y;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(16) double2 {
    double x, y;
};

// The built-in variables: the calling emulated thread's coordinates, set by
// the emulator before it runs the kernel. Functions, not extern thread_local
// variables: UBSan (GCC 12) misreports member accesses through another
// translation unit's thread_local of class type as null-pointer accesses.
namespace dynshare {
namespace cuda {
namespace emu {
uint3 thread_index();
uint3 block_index();
dim3 block_dim();
dim3 grid_dim();
}  // namespace emu
}  // namespace cuda
}  // namespace dynshare
#define threadIdx (::dynshare::cuda::emu::thread_index())
#define blockIdx (::dynshare::cuda::emu::block_index())
#define blockDim (::dynshare::cuda::emu::block_dim())
#define gridDim (::dynshare::cuda::emu::grid_dim())
constexpr int warpSize = 32;

// ---- runtime API: types ----------------------------------------------------
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorLaunchOutOfResources = 701,
    cudaErrorLaunchFailure = 719,
};
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};
enum cudaFuncAttribute {
    cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
    cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};
enum cudaDeviceAttr {
    cudaDevAttrMaxThreadsPerBlock = 1,
    cudaDevAttrMaxSharedMemoryPerBlock = 8,
    cudaDevAttrWarpSize = 10,
    cudaDevAttrMultiProcessorCount = 16,
    cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};
struct CUevent_st;
using cudaEvent_t = CUevent_st*;

namespace dynshare {
namespace cuda {
namespace emu {

// The emulated device's limits (those of an H100/H200; compute capability 9.0).
constexpr int kMaxThreadsPerBlock = 1024;
constexpr size_t kDefaultDynamicShared = 48 * 1024;  // without cudaFuncSetAttribute
constexpr size_t kMaxDynamicShared = 227 * 1024;     // opt-in maximum per block
constexpr size_t kDeviceMemory = size_t(4) << 30;    // what cudaMemGetInfo reports as total

using AnyKernel = void (*)();  // a kernel's address, as a key

// Runs body() once on every thread of every block of the grid (blocks one at
// a time, a block's threads concurrently); returns the launch's error.
class ThreadBody {
public:
    virtual ~ThreadBody() = default;
    virtual void run() const = 0;
};
cudaError_t run_grid(AnyKernel kernel, dim3 grid, dim3 block, size_t shmem, const ThreadBody& body);

// The calling emulated thread's block: its dynamic shared memory, barriers, warps.
void* dynamic_shared_base();
template <class T>
T* dynamic_shared() {
    return static_cast<T*>(dynamic_shared_base());
}
void syncthreads(const char* file, int line);
void syncwarp(unsigned mask, const char* file, int line);
// The warp exchange under every shuffle: lane l publishes `bits`, then reads
// lane src(l)'s (src < 0 or not a lane of the warp: its own value back).
uint64_t warp_exchange(unsigned mask, uint64_t bits, int src, const char* file, int line);
int lane_id();

template <class T>
uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffles move at most 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T>
T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}

// kernel<<<grid, block, shmem>>>(args...) is launch(kernel, grid, block, shmem)(args...).
template <class... P>
class Launch {
public:
    Launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t shmem)
        : kernel_(kernel), grid_(grid), block_(block), shmem_(shmem) {}
    template <class... A>
    void operator()(A&&... a) const {
        static_assert(sizeof...(A) == sizeof...(P), "kernel launched with the wrong number of arguments");
        // The arguments are converted to the parameter types once, as the
        // launch copies them; each thread gets its own copy from these.
        const std::tuple<std::decay_t<P>...> args(std::forward<A>(a)...);
        struct Body final : ThreadBody {
            void (*k)(P...);
            const std::tuple<std::decay_t<P>...>* args;
            void run() const override { std::apply(k, *args); }
        } body;
        body.k = kernel_;
        body.args = &args;
        run_grid(reinterpret_cast<AnyKernel>(kernel_), grid_, block_, shmem_, body);
    }

private:
    void (*kernel_)(P...);
    dim3 grid_, block_;
    size_t shmem_;
};
template <class... P>
Launch<P...> launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t shmem = 0) {
    return Launch<P...>(kernel, grid, block, shmem);
}

cudaError_t func_set_attribute(AnyKernel kernel, cudaFuncAttribute attr, int value);

}  // namespace emu
}  // namespace cuda
}  // namespace dynshare

// ---- device functions ---------------------------------------------------------
// The call site (file, line) comes from GCC's and Clang's __builtin_FILE and
// __builtin_LINE as default arguments: threads of a block meeting at different
// barriers are reported.
namespace dynshare {
namespace cuda {
namespace emu {

// Source lanes as CUDA defines them for segments of `width` lanes; a source
// outside the caller's segment gives the caller its own value.
inline int segment_source(int lane, int src, int width) {
    return (src >= 0 && (src & ~(width - 1)) == (lane & ~(width - 1))) ? src : lane;
}

template <class T>
T atomic_add_float(T* a, T v) {
    T old;
    __atomic_load(a, &old, __ATOMIC_RELAXED);
    T desired;
    do {
        desired = old + v;
    } while (!__atomic_compare_exchange(a, &old, &desired, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return old;
}

}  // namespace emu
}  // namespace cuda
}  // namespace dynshare

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    dynshare::cuda::emu::syncthreads(file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    dynshare::cuda::emu::syncwarp(mask, file, line);
}
template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = warpSize, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
    namespace e = dynshare::cuda::emu;
    const int lane = e::lane_id();
    return e::from_bits<T>(e::warp_exchange(mask, e::to_bits(v), (lane & ~(width - 1)) + (src & (width - 1)), file, line));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE()) {
    namespace e = dynshare::cuda::emu;
    const int lane = e::lane_id();
    return e::from_bits<T>(e::warp_exchange(mask, e::to_bits(v), e::segment_source(lane, lane ^ lane_mask, width), file, line));
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                   int line = __builtin_LINE()) {
    namespace e = dynshare::cuda::emu;
    const int lane = e::lane_id();
    return e::from_bits<T>(
        e::warp_exchange(mask, e::to_bits(v), e::segment_source(lane, lane + static_cast<int>(delta), width), file, line));
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = warpSize, const char* file = __builtin_FILE(),
                 int line = __builtin_LINE()) {
    namespace e = dynshare::cuda::emu;
    const int lane = e::lane_id();
    return e::from_bits<T>(
        e::warp_exchange(mask, e::to_bits(v), e::segment_source(lane, lane - static_cast<int>(delta), width), file, line));
}

inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---- atomics (GCC's __atomic builtins, which ThreadSanitizer understands) --------
inline int atomicAdd(int* a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned int atomicAdd(unsigned int* a, unsigned int v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
    return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);
}
inline float atomicAdd(float* a, float v) { return dynshare::cuda::emu::atomic_add_float(a, v); }
inline double atomicAdd(double* a, double v) { return dynshare::cuda::emu::atomic_add_float(a, v); }
inline int atomicSub(int* a, int v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
inline unsigned int atomicSub(unsigned int* a, unsigned int v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
template <class T>
T atomicExch(T* a, T v) {
    T old;
    __atomic_exchange(a, &v, &old, __ATOMIC_SEQ_CST);
    return old;
}
template <class T>
T atomicCAS(T* a, T compare, T v) {
    __atomic_compare_exchange(a, &compare, &v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return compare;  // the old value either way
}
template <class T>
T atomicMax(T* a, T v) {
    T old;
    __atomic_load(a, &old, __ATOMIC_RELAXED);
    while (old < v && !__atomic_compare_exchange(a, &old, &v, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
    }
    return old;
}
template <class T>
T atomicMin(T* a, T v) {
    T old;
    __atomic_load(a, &old, __ATOMIC_RELAXED);
    while (v < old && !__atomic_compare_exchange(a, &old, &v, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
    }
    return old;
}

// ---- runtime API: functions ------------------------------------------------
cudaError_t cudaMalloc(void** p, size_t bytes);
template <class T>
cudaError_t cudaMalloc(T** p, size_t bytes) {
    void* q = nullptr;
    const cudaError_t e = cudaMalloc(&q, bytes);
    *p = static_cast<T*>(q);
    return e;
}
cudaError_t cudaFree(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t e);
template <class... P>
cudaError_t cudaFuncSetAttribute(void (*kernel)(P...), cudaFuncAttribute attr, int value) {
    return dynshare::cuda::emu::func_set_attribute(reinterpret_cast<dynshare::cuda::emu::AnyKernel>(kernel), attr,
                                                   value);
}
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, void* stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
