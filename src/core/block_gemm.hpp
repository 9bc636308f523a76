// SPDX-License-Identifier: BSD-3-Clause
// The two matrix products of the blocked presentations (core/block.cpp), as
// hand-vectorised register-blocked kernels compiled once per instruction set
// (block_gemm_<isa>.cpp, bodies in block_gemm_body.hpp) and chosen at run
// time by the CPU's features or DYNSHARE_BLOCK_KERNEL (portable, avx2,
// avx512).
//
// Why not Eigen: the build is portable (baseline x86-64), so Eigen's kernels
// run with 16-byte SSE2 vectors, at a third to a half of what an AVX2 or
// AVX-512 CPU does; Eigen compiled with other flags in other files of the
// same binary would break the one-definition rule. These kernels take no
// packing either: the block's inputs are small and shared by every chunk.
//
// Every entry of C is summed over k in order, in one accumulator, whatever
// register block it falls in, so the results do not depend on the number of
// threads (the callers' chunks are fixed). Different instruction sets round
// differently (fused multiply-add in avx2 and avx512), so pin
// DYNSHARE_BLOCK_KERNEL to compare runs made on different CPUs bit for bit.
#pragma once
#include <cstdint>
#include <vector>

#include "core/simd_isa.hpp"

namespace dynshare {

template <class T>
struct BlockGemm {
    // C (M x N, rows ldc apart) = A B, or += A B with accumulate, where
    // A's rows are given by pointers (A(m, k) = arow[m][k]: the drives read
    // the weights of a group's neurons where they are, in any order) and
    // B (K x N) has rows ldb apart.
    using Product = void (*)(int64_t M, int64_t N, int64_t K, const T* const* arow, const T* b, int64_t ldb, T* c,
                             int64_t ldc, bool accumulate);
    Product drives;    // register blocks for the drives' shape: N = the block's presentations (few), K = fan-in
    Product update;    // ... for the update's: N = fan-in, K = the block's presentations
    int64_t lanes;     // numbers per vector: N a multiple of it runs without a scalar tail
    const char* name;  // the instruction set
};

// Compiled in and supported by this CPU, narrowest first (portable always).
std::vector<SimdIsa> block_isas_available();
// In use: set_block_isa's, else DYNSHARE_BLOCK_KERNEL's (read once; a name
// not available is a UserError naming the variable and the allowed values),
// else the widest available.
SimdIsa block_isa();
void set_block_isa(SimdIsa isa);  // tests and benchmarks; throws UserError if not available

template <class T>
BlockGemm<T> block_gemm(SimdIsa isa);

}  // namespace dynshare
