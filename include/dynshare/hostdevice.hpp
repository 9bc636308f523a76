// SPDX-License-Identifier: BSD-3-Clause
// Marks functions that both the CPU engine and the CUDA kernels compile.
// Kept to one macro so model headers stay plain C++ for every non-CUDA build.
#pragma once
#if defined(__CUDACC__)
#define DS_HD __host__ __device__ inline
#else
#define DS_HD inline
#endif
