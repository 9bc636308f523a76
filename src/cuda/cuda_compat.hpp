// SPDX-License-Identifier: BSD-3-Clause
// Included first by every src/cuda/*.cu. The kernel sources are compiled
// twice: by nvcc against the CUDA runtime (a GPU), and as host C++ against
// the emulation in src/cuda/emulation/ (the CPU; library
// dynshare_cuda_emulated, docs/gpu_emulation.md). The two builds differ only
// in what this header defines:
//   DYNSHARE_KERNEL_NS       the namespace of the entry points (dynshare::cuda::device
//                            or dynshare::cuda::emulated; see kernels.hpp)
//   DS_LAUNCH(k, g, b, s)(args...)   the launch k<<<g, b, s>>>(args...)
//   DS_EXTERN_SHARED(T, name)        extern __shared__ T name[] (dynamic shared memory)
#pragma once
#if defined(__CUDACC__)
#include <cuda_runtime.h>
#define DYNSHARE_KERNEL_NS device
#define DS_LAUNCH(kernel, grid, block, shmem) kernel<<<(grid), (block), (shmem)>>>
#define DS_EXTERN_SHARED(T, name) extern __shared__ T name[]
#else
#include "cuda/emulation/cuda_emulation.hpp"
#define DYNSHARE_KERNEL_NS emulated
#define DS_LAUNCH(kernel, grid, block, shmem) ::dynshare::cuda::emu::launch((kernel), (grid), (block), (shmem))
#define DS_EXTERN_SHARED(T, name) T* const name = ::dynshare::cuda::emu::dynamic_shared<T>()
#endif
