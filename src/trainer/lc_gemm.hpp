// SPDX-License-Identifier: BSD-3-Clause
// The instruction set of the LC cache kernel's inner GEMMs (lc_gemm_body.hpp),
// chosen at run time: the widest this CPU has among those compiled in, or
// the one DYNSHARE_LC_KERNEL names (portable, avx2, avx512). Different
// instruction sets sum in different orders (vector width, fused multiply-add),
// so results agree to rounding, not bit for bit; within one, they do not
// depend on the thread count. Pin DYNSHARE_LC_KERNEL to compare runs made on
// different CPUs bit for bit.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/simd_isa.hpp"

namespace dynshare::trainer {

template <class T>
struct LcGemm {
    // C rows (+)= A(m, k) B rows (see gemm_rows in lc_gemm_body.hpp)
    void (*rows)(int64_t M, int64_t N, int64_t K, const T* a, int64_t am, int64_t ak, const T* const* brow,
                 int64_t boff, T* const* crow, int64_t coff, bool accumulate);
    // C = A B^T by row dot products (see gemm_dots)
    void (*dots)(int64_t M, int64_t N, int64_t K, const T* a, int64_t lda, const T* const* brow, T* c, int64_t ldc);
    int64_t lanes;     // numbers per vector: the batch split's granularity
    const char* name;  // the instruction set
};

// The instruction sets (core/simd_isa.hpp, shared with the block GEMMs).
using LcIsa = SimdIsa;

// Compiled in and supported by this CPU, narrowest first (portable always).
std::vector<LcIsa> lc_isas_available();
// In use: set_lc_isa's, else DYNSHARE_LC_KERNEL's (read once; a name not
// available is a UserError naming the variable and the allowed values),
// else the widest available.
LcIsa lc_isa();
void set_lc_isa(LcIsa isa);  // tests and benchmarks; throws UserError if not available

template <class T>
LcGemm<T> lc_gemm(LcIsa isa);

}  // namespace dynshare::trainer
