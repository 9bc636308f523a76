// SPDX-License-Identifier: BSD-3-Clause
// The host emulation of CUDA (cuda_emulation.hpp): the thread-block emulator
// and the runtime calls. See docs/gpu_emulation.md.
//
// One block at a time. A block is `Block`: one mutex for all its barriers, a
// block barrier for __syncthreads, one barrier and exchange storage per warp
// for the warp intrinsics, and its dynamic shared memory. Its threads are
// std::threads that each run the kernel with their own threadIdx.
//
// A barrier phase completes when every thread of the block (of the warp) has
// arrived; the last arrival bumps the phase's generation and wakes the
// waiters. Arrivals are counted under the block's mutex; the waiting is on
// the generation word (an atomic; a futex on Linux), so the woken threads do
// not queue again for the mutex: with 64 threads on 2 cores, waking them
// through one condition variable and mutex was several times slower. The
// atomic's release (last arrival) and acquire (waiters) order every thread's
// writes before the barrier with every thread's reads after it, as
// __syncthreads does, and ThreadSanitizer sees that order. Faults (divergent call sites, an exit while a barrier is pending,
// a bad shuffle mask, a deadlock) mark the block broken: every waiting or
// later-arriving thread leaves the kernel by an exception (BlockFault) caught
// at the top of the thread, and the launch reports cudaErrorLaunchFailure.
#include "cuda/emulation/cuda_emulation.hpp"

#include <algorithm>
#include <chrono>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace dynshare {
namespace cuda {
namespace emu {

namespace {

// The emulated thread's built-in variables (threadIdx, blockIdx, blockDim, gridDim).
thread_local uint3 t_thread_idx{0, 0, 0};
thread_local uint3 t_block_idx{0, 0, 0};
thread_local dim3 t_block_dim{1, 1, 1};
thread_local dim3 t_grid_dim{1, 1, 1};

struct BlockFault {};

constexpr uint32_t kBroken = 0x80000000u;  // generation bit: the block is broken, leave

// Blocks while *word == expected (it may return early: callers loop).
void wait_while_equal(std::atomic<uint32_t>& word, uint32_t expected) {
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
#else
    (void)word;
    (void)expected;
    std::this_thread::yield();
#endif
}
void wake_all(std::atomic<uint32_t>& word) {
#if defined(__linux__)
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 0x7fffffff, nullptr, nullptr, 0);
#else
    (void)word;
#endif
}

// One barrier: arrivals of the current phase (under the block's mutex), the
// phase's call site, and the generation word the waiters wait on.
struct Barrier {
    int arrived = 0;
    const char* file = nullptr;
    int line = 0;
    std::atomic<uint32_t> generation{0};
};

struct Warp {
    int lanes = 0;           // lanes that exist (blockDim may end in a partial warp)
    unsigned lane_mask = 0;  // those lanes as a mask
    int exited = 0;
    Barrier bar;
    uint64_t slots[2][32] = {};  // exchange storage, alternating between consecutive exchanges
};

std::string site(const char* file, int line) {
    std::string f = file ? file : "?";
    const size_t slash = f.find_last_of('/');
    if (slash != std::string::npos) f = f.substr(slash + 1);
    return f + ":" + std::to_string(line);
}

class Block {
public:
    Block(int threads, size_t shmem) : threads_(threads), live_(threads), shared_(std::malloc(shmem)) {
        const int nwarps = (threads + 31) / 32;
        warps_ = std::vector<Warp>(static_cast<size_t>(nwarps));
        for (int w = 0; w < nwarps; ++w) {
            Warp& wp = warps_[static_cast<size_t>(w)];
            wp.lanes = std::min(32, threads - 32 * w);
            wp.lane_mask = wp.lanes == 32 ? 0xffffffffu : ((1u << wp.lanes) - 1u);
        }
    }
    ~Block() { std::free(shared_); }
    Block(const Block&) = delete;
    Block& operator=(const Block&) = delete;

    void* shared() const { return shared_; }
    bool broken() {
        std::lock_guard<std::mutex> lk(m_);
        return broken_;
    }
    std::string error() {
        std::lock_guard<std::mutex> lk(m_);
        return error_;
    }

    void syncthreads(int tid, const char* file, int line) {
        std::unique_lock<std::mutex> lk(m_);
        if (exited_ > 0)
            fault(lk, "thread " + std::to_string(tid) + " reached __syncthreads at " + site(file, line) + " after " +
                          std::to_string(exited_) + " thread(s) of its block returned (a __syncthreads that not every "
                          "thread reaches is undefined behaviour)");
        arrive(lk, bar_, threads_, tid, "__syncthreads", file, line);
    }

    uint64_t exchange(int tid, unsigned mask, uint64_t bits, int src, int parity, const char* file, int line) {
        std::unique_lock<std::mutex> lk(m_);
        Warp& w = warps_[static_cast<size_t>(tid / 32)];
        const int lane = tid % 32;
        check_mask(lk, w, tid, mask, file, line);
        w.slots[parity][lane] = bits;
        arrive(lk, w.bar, w.lanes, tid, "warp intrinsic", file, line);
        if (src < 0 || src >= w.lanes) src = lane;
        return w.slots[parity][src];  // ordered after every lane's write by the barrier
    }

    void syncwarp(int tid, unsigned mask, const char* file, int line) {
        std::unique_lock<std::mutex> lk(m_);
        Warp& w = warps_[static_cast<size_t>(tid / 32)];
        check_mask(lk, w, tid, mask, file, line);
        arrive(lk, w.bar, w.lanes, tid, "__syncwarp", file, line);
    }

    // Thread `tid` left the kernel (returned, or was unwound by a fault).
    void exit(int tid) {
        std::unique_lock<std::mutex> lk(m_);
        --live_;
        ++exited_;
        Warp& w = warps_[static_cast<size_t>(tid / 32)];
        ++w.exited;
        if (broken_) return;
        if (bar_.arrived > 0)
            mark_broken("thread " + std::to_string(tid) + " returned while " + std::to_string(bar_.arrived) +
                        " thread(s) wait at __syncthreads at " + site(bar_.file, bar_.line) +
                        " (a __syncthreads that not every thread reaches is undefined behaviour)");
        else if (w.bar.arrived > 0)
            mark_broken("thread " + std::to_string(tid) + " returned while lanes of its warp wait at a warp intrinsic at " +
                        site(w.bar.file, w.bar.line));
        else if (live_ > 0 && blocked_ == live_)
            mark_broken("deadlock: every live thread waits at a barrier that cannot complete");
    }

private:
    void check_mask(std::unique_lock<std::mutex>& lk, const Warp& w, int tid, unsigned mask, const char* file, int line) {
        if (mask != w.lane_mask) {
            char buf[256];
            std::snprintf(buf, sizeof buf,
                          "thread %d: warp intrinsic at %s with mask 0x%08x: the emulator (and this code) expects "
                          "the mask of every lane of the warp, 0x%08x",
                          tid, site(file, line).c_str(), mask, w.lane_mask);
            fault(lk, buf);
        }
        if (w.exited > 0)
            fault(lk, "thread " + std::to_string(tid) + ": warp intrinsic at " + site(file, line) + " after " +
                          std::to_string(w.exited) + " lane(s) of its warp returned");
    }

    // Arrives at `b` (expected arrivals per phase: `expected`) and waits for
    // the phase to complete. Called with the mutex held; returns without it.
    void arrive(std::unique_lock<std::mutex>& lk, Barrier& b, int expected, int tid, const char* what,
                const char* file, int line) {
        if (broken_) throw BlockFault{};
        if (b.arrived == 0) {
            b.file = file;
            b.line = line;
        } else if (b.line != line || std::strcmp(b.file, file) != 0) {
            fault(lk, std::string("threads of a block at different ") + what + " call sites: " + site(b.file, b.line) +
                          " and " + site(file, line) + " (thread " + std::to_string(tid) + ")");
        }
        ++b.arrived;
        if (b.arrived == expected) {
            blocked_ -= b.arrived - 1;
            b.arrived = 0;
            // Only here and in mark_broken, both under the mutex; 31 bits wrap.
            const uint32_t cur = b.generation.load(std::memory_order_relaxed);
            b.generation.store((cur + 1) & ~kBroken, std::memory_order_release);
            lk.unlock();
            wake_all(b.generation);
            return;
        }
        ++blocked_;
        if (blocked_ == live_)
            fault(lk, std::string("deadlock: every live thread waits at a barrier that cannot complete (the last one "
                                  "at ") + what + " " + site(file, line) + ", thread " + std::to_string(tid) + ")");
        const uint32_t g = b.generation.load(std::memory_order_relaxed);
        lk.unlock();
        for (;;) {
            const uint32_t now = b.generation.load(std::memory_order_acquire);
            if (now & kBroken) throw BlockFault{};
            if (now != g) return;
            wait_while_equal(b.generation, g);
        }
    }

    // With the mutex held. Waiters see kBroken in their generation word.
    void mark_broken(const std::string& why) {
        if (!broken_) {
            broken_ = true;
            error_ = why;
        }
        bar_.generation.fetch_or(kBroken, std::memory_order_acq_rel);
        wake_all(bar_.generation);
        for (Warp& w : warps_) {
            w.bar.generation.fetch_or(kBroken, std::memory_order_acq_rel);
            wake_all(w.bar.generation);
        }
    }
    [[noreturn]] void fault(std::unique_lock<std::mutex>&, const std::string& why) {
        mark_broken(why);
        throw BlockFault{};
    }

    std::mutex m_;
    const int threads_;
    int live_;
    int exited_ = 0;
    int blocked_ = 0;
    bool broken_ = false;
    std::string error_;
    Barrier bar_;
    std::vector<Warp> warps_;
    void* shared_;
};

// What an emulated thread knows about itself.
struct ThreadContext {
    Block* block = nullptr;
    int tid = 0;          // linear thread index in the block
    uint64_t exchanges = 0;  // warp exchanges done: their parity picks the storage
};
thread_local ThreadContext t_ctx;

[[noreturn]] void not_in_kernel(const char* what) {
    std::fprintf(stderr, "dynshare cuda emulation: %s called outside a kernel\n", what);
    std::abort();
}

// Runtime state: allocations, the last error, kernel attributes. One mutex.
struct Runtime {
    std::mutex m;
    std::map<const unsigned char*, size_t> allocations;
    size_t allocated = 0;
    cudaError_t last_error = cudaSuccess;
    std::string fault;  // the reason of the last launch failure
    std::map<AnyKernel, size_t> max_dynamic_shared;
};
Runtime& runtime() {
    static Runtime r;
    return r;
}
std::mutex& launch_mutex() {  // one launch at a time in the process: static __shared__ is one block's
    static std::mutex m;
    return m;
}

cudaError_t set_error(cudaError_t e) {
    if (e != cudaSuccess) {
        std::lock_guard<std::mutex> lk(runtime().m);
        runtime().last_error = e;
    }
    return e;
}

// Whether [p, p + bytes) lies inside one allocation.
bool is_device_range(const void* p, size_t bytes) {
    Runtime& rt = runtime();
    std::lock_guard<std::mutex> lk(rt.m);
    const auto* q = static_cast<const unsigned char*>(p);
    auto it = rt.allocations.upper_bound(q);
    if (it == rt.allocations.begin()) return false;
    --it;
    return q >= it->first && q + bytes <= it->first + it->second;
}

}  // namespace

uint3 thread_index() { return t_thread_idx; }
uint3 block_index() { return t_block_idx; }
dim3 block_dim() { return t_block_dim; }
dim3 grid_dim() { return t_grid_dim; }

void* dynamic_shared_base() {
    if (!t_ctx.block) not_in_kernel("dynamic shared memory");
    return t_ctx.block->shared();
}

void syncthreads(const char* file, int line) {
    if (!t_ctx.block) not_in_kernel("__syncthreads");
    t_ctx.block->syncthreads(t_ctx.tid, file, line);
}

void syncwarp(unsigned mask, const char* file, int line) {
    if (!t_ctx.block) not_in_kernel("__syncwarp");
    t_ctx.block->syncwarp(t_ctx.tid, mask, file, line);
}

uint64_t warp_exchange(unsigned mask, uint64_t bits, int src, const char* file, int line) {
    if (!t_ctx.block) not_in_kernel("a warp intrinsic");
    const int parity = static_cast<int>(t_ctx.exchanges++ & 1u);
    return t_ctx.block->exchange(t_ctx.tid, mask, bits, src, parity, file, line);
}

int lane_id() {
    if (!t_ctx.block) not_in_kernel("a warp intrinsic");
    return t_ctx.tid % 32;
}

cudaError_t func_set_attribute(AnyKernel kernel, cudaFuncAttribute attr, int value) {
    if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
        if (value < 0 || static_cast<size_t>(value) > kMaxDynamicShared) return set_error(cudaErrorInvalidValue);
        std::lock_guard<std::mutex> lk(runtime().m);
        runtime().max_dynamic_shared[kernel] = static_cast<size_t>(value);
    }
    return cudaSuccess;
}

cudaError_t run_grid(AnyKernel kernel, dim3 grid, dim3 block, size_t shmem, const ThreadBody& body) {
    const unsigned long long threads = 1ull * block.x * block.y * block.z;
    if (threads == 0 || threads > kMaxThreadsPerBlock || block.x > 1024 || block.y > 1024 || block.z > 64 ||
        grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535 || grid.x > 0x7fffffffu)
        return set_error(cudaErrorInvalidConfiguration);
    {
        std::lock_guard<std::mutex> lk(runtime().m);
        const auto it = runtime().max_dynamic_shared.find(kernel);
        const size_t limit = it == runtime().max_dynamic_shared.end() ? kDefaultDynamicShared : it->second;
        if (shmem > limit) {
            runtime().last_error = cudaErrorInvalidValue;
            return cudaErrorInvalidValue;
        }
    }
    std::lock_guard<std::mutex> launch_lock(launch_mutex());
    const int nthreads = static_cast<int>(threads);
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                Block blk(nthreads, shmem);
                std::vector<std::thread> team;
                team.reserve(static_cast<size_t>(nthreads));
                for (int t = 0; t < nthreads; ++t)
                    team.emplace_back([&, t] {
                        t_thread_idx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
                        t_block_idx = uint3{bx, by, bz};
                        t_block_dim = block;
                        t_grid_dim = grid;
                        t_ctx = ThreadContext{&blk, t, 0};
                        try {
                            body.run();
                        } catch (const BlockFault&) {
                        }
                        blk.exit(t);
                        t_ctx = ThreadContext{};
                    });
                for (std::thread& th : team) th.join();
                if (blk.broken()) {
                    const std::string why = "block (" + std::to_string(bx) + "," + std::to_string(by) + "," +
                                            std::to_string(bz) + "): " + blk.error();
                    std::fprintf(stderr, "dynshare cuda emulation: launch failure: %s\n", why.c_str());
                    std::lock_guard<std::mutex> lk(runtime().m);
                    runtime().fault = "unspecified launch failure (emulation: " + why + ")";
                    runtime().last_error = cudaErrorLaunchFailure;
                    return cudaErrorLaunchFailure;
                }
            }
    return cudaSuccess;
}

}  // namespace emu
}  // namespace cuda
}  // namespace dynshare

using dynshare::cuda::emu::kDeviceMemory;
using dynshare::cuda::emu::runtime;
using dynshare::cuda::emu::set_error;

cudaError_t cudaMalloc(void** p, size_t bytes) {
    if (!p) return set_error(cudaErrorInvalidValue);
    *p = nullptr;
    auto& rt = runtime();
    std::lock_guard<std::mutex> lk(rt.m);
    if (bytes > kDeviceMemory - rt.allocated) {
        rt.last_error = cudaErrorMemoryAllocation;
        return cudaErrorMemoryAllocation;
    }
    // Exactly `bytes` (AddressSanitizer reports overruns); malloc aligns to 16,
    // cudaMalloc to 256: nothing here depends on more than 16.
    void* q = std::malloc(bytes ? bytes : 1);
    if (!q) {
        rt.last_error = cudaErrorMemoryAllocation;
        return cudaErrorMemoryAllocation;
    }
    rt.allocations[static_cast<const unsigned char*>(q)] = bytes;
    rt.allocated += bytes;
    *p = q;
    return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
    if (!p) return cudaSuccess;
    auto& rt = runtime();
    std::lock_guard<std::mutex> lk(rt.m);
    const auto it = rt.allocations.find(static_cast<const unsigned char*>(p));
    if (it == rt.allocations.end()) {
        rt.last_error = cudaErrorInvalidDevicePointer;
        return cudaErrorInvalidDevicePointer;
    }
    rt.allocated -= it->second;
    rt.allocations.erase(it);
    std::free(p);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
    using dynshare::cuda::emu::is_device_range;
    if (bytes == 0) return cudaSuccess;
    const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) return set_error(cudaErrorInvalidMemcpyDirection);
    if ((src_dev && !is_device_range(src, bytes)) || (dst_dev && !is_device_range(dst, bytes)))
        return set_error(cudaErrorInvalidValue);
    std::memmove(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemset(void* p, int value, size_t bytes) {
    if (bytes == 0) return cudaSuccess;
    if (!dynshare::cuda::emu::is_device_range(p, bytes)) return set_error(cudaErrorInvalidValue);
    std::memset(p, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
    auto& rt = runtime();
    std::lock_guard<std::mutex> lk(rt.m);
    if (free_bytes) *free_bytes = kDeviceMemory - rt.allocated;
    if (total_bytes) *total_bytes = kDeviceMemory;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
    if (!count) return set_error(cudaErrorInvalidValue);
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : set_error(cudaErrorInvalidDevice); }

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
    if (!value || device != 0) return set_error(cudaErrorInvalidValue);
    switch (attr) {
        case cudaDevAttrMaxThreadsPerBlock: *value = dynshare::cuda::emu::kMaxThreadsPerBlock; break;
        case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(dynshare::cuda::emu::kDefaultDynamicShared); break;
        case cudaDevAttrWarpSize: *value = 32; break;
        case cudaDevAttrMultiProcessorCount: *value = 1; break;
        case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = static_cast<int>(dynshare::cuda::emu::kMaxDynamicShared); break;
        default: return set_error(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}

// Launches are synchronous: a launch's error is already in last_error.
cudaError_t cudaDeviceSynchronize() {
    std::lock_guard<std::mutex> lk(runtime().m);
    return runtime().last_error == cudaErrorLaunchFailure ? cudaErrorLaunchFailure : cudaSuccess;
}

cudaError_t cudaGetLastError() {
    std::lock_guard<std::mutex> lk(runtime().m);
    const cudaError_t e = runtime().last_error;
    runtime().last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError() {
    std::lock_guard<std::mutex> lk(runtime().m);
    return runtime().last_error;
}

const char* cudaGetErrorString(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorInvalidDevicePointer: return "invalid device pointer";
        case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
        case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        case cudaErrorInvalidDevice: return "invalid device ordinal";
        case cudaErrorInvalidResourceHandle: return "invalid resource handle";
        case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
        case cudaErrorLaunchFailure: {
            // The reason of the last failure; the string lives until the next one.
            std::lock_guard<std::mutex> lk(runtime().m);
            return runtime().fault.empty() ? "unspecified launch failure" : runtime().fault.c_str();
        }
    }
    return "unknown error";
}

struct CUevent_st {
    std::chrono::steady_clock::time_point t{};
};

cudaError_t cudaEventCreate(cudaEvent_t* e) {
    if (!e) return set_error(cudaErrorInvalidValue);
    *e = new CUevent_st;
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    delete e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, void*) {
    if (!e) return set_error(cudaErrorInvalidResourceHandle);
    e->t = std::chrono::steady_clock::now();  // launches are synchronous: now is when the work before it ended
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) { return e ? cudaSuccess : set_error(cudaErrorInvalidResourceHandle); }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
    if (!ms || !start || !end) return set_error(cudaErrorInvalidValue);
    *ms = std::chrono::duration<float, std::milli>(end->t - start->t).count();
    return cudaSuccess;
}
