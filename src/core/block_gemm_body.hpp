// SPDX-License-Identifier: BSD-3-Clause
// The block GEMM kernel (block_gemm.hpp), written once over a vector width
// and a register block. Included only by the block_gemm_<isa>.cpp files,
// each compiled for one instruction set; each defines DYNSHARE_BLOCK_ISA (a
// namespace name) first, so the instantiations of different files are
// different functions and none can be taken for another at link time.
#ifndef DYNSHARE_BLOCK_ISA
#error "define DYNSHARE_BLOCK_ISA (the namespace of this instruction set) before including block_gemm_body.hpp"
#endif
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/block_gemm.hpp"

namespace dynshare::DYNSHARE_BLOCK_ISA {

#include "core/simd_vector.inc"

// One register block: R rows x C vectors of C (R C accumulators, C loads of
// B and R broadcasts of A per k; R C + C + 1 registers must fit the file).
template <class T, int Bytes, int R, int C>
inline void tile(int64_t m0, int64_t n0, int64_t K, const T* const* arow, const T* b, int64_t ldb, T* c,
                 int64_t ldc, bool accumulate) {
    using S = Simd<T, Bytes>;
    using vec = typename S::vec;
    constexpr int64_t V = S::V;
    vec acc[R][C] = {};
    const T* ar[R];
    for (int r = 0; r < R; ++r) ar[r] = arow[m0 + r];
    for (int64_t k = 0; k < K; ++k) {
        vec bv[C];
        for (int q = 0; q < C; ++q) bv[q] = S::load(b + k * ldb + n0 + q * V);
        for (int r = 0; r < R; ++r) {
            const T s = ar[r][k];
            for (int q = 0; q < C; ++q) acc[r][q] += s * bv[q];
        }
    }
    for (int r = 0; r < R; ++r)
        for (int q = 0; q < C; ++q) {
            T* d = c + (m0 + r) * ldc + n0 + q * V;
            S::store(d, accumulate ? S::load(d) + acc[r][q] : acc[r][q]);
        }
}

// The leftover vectors of a row block (fewer than CB): one tile of all of
// them (C = their count, tried from CB - 1 down).
template <class T, int Bytes, int R, int C>
inline void tail_tile(int64_t count, int64_t m0, int64_t n0, int64_t K, const T* const* arow, const T* b, int64_t ldb,
                      T* c, int64_t ldc, bool accumulate) {
    if constexpr (C >= 1) {
        if (count == C) tile<T, Bytes, R, C>(m0, n0, K, arow, b, ldb, c, ldc, accumulate);
        else tail_tile<T, Bytes, R, C - 1>(count, m0, n0, K, arow, b, ldb, c, ldc, accumulate);
    }
}

// C (+)= A B (block_gemm.hpp): blocks of RB rows x CB vectors, then one
// block of RB rows x the leftover vectors, then scalar columns; leftover
// rows one at a time. Every entry is
// one accumulator summed over k in order, in any block.
template <class T, int Bytes, int RB, int CB>
void gemm(int64_t M, int64_t N, int64_t K, const T* const* arow, const T* b, int64_t ldb, T* c, int64_t ldc,
          bool accumulate) {
    constexpr int64_t V = Simd<T, Bytes>::V;
    const int64_t Nv = N - N % V;
    auto scalar_column = [&](int64_t m, int64_t n) {
        T s = 0;
        for (int64_t k = 0; k < K; ++k) s += arow[m][k] * b[k * ldb + n];
        T& d = c[m * ldc + n];
        d = accumulate ? d + s : s;
    };
    int64_t m0 = 0;
    for (; m0 + RB <= M; m0 += RB) {
        int64_t n0 = 0;
        for (; n0 + CB * V <= Nv; n0 += CB * V) tile<T, Bytes, RB, CB>(m0, n0, K, arow, b, ldb, c, ldc, accumulate);
        tail_tile<T, Bytes, RB, CB - 1>((Nv - n0) / V, m0, n0, K, arow, b, ldb, c, ldc, accumulate);
        for (int64_t n = Nv; n < N; ++n)
            for (int64_t r = 0; r < RB; ++r) scalar_column(m0 + r, n);
    }
    for (; m0 < M; ++m0) {
        for (int64_t n0 = 0; n0 < Nv; n0 += V) tile<T, Bytes, 1, 1>(m0, n0, K, arow, b, ldb, c, ldc, accumulate);
        for (int64_t n = Nv; n < N; ++n) scalar_column(m0, n);
    }
}

// The function table of this instruction set: register blocks RD x CD for
// the drives, RU x CU for the update.
template <class T, int Bytes, int RD, int CD, int RU, int CU>
BlockGemm<T> table(const char* name) {
    return BlockGemm<T>{&gemm<T, Bytes, RD, CD>, &gemm<T, Bytes, RU, CU>, Simd<T, Bytes>::V, name};
}

}  // namespace dynshare::DYNSHARE_BLOCK_ISA
