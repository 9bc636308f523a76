// SPDX-License-Identifier: BSD-3-Clause
// The two small GEMMs of the LC cache kernel (lc_cpu_kernel.cpp), written
// once over a vector width. Included only by the lc_gemm_<isa>.cpp files,
// each compiled for one instruction set with its own width:
//   portable (baseline x86-64 / any CPU): 16-byte vectors,
//   avx2 (-mavx2 -mfma): 32-byte vectors,
//   avx512 (-mavx512f): 64-byte vectors.
// A vector wider than the CPU's registers is split by the compiler into
// several, and the register blocks below then spill: that made the 64-byte
// kernel ~8x slower on an AVX2-only CPU. Each file defines DYNSHARE_LC_ISA
// (a namespace name) first, so the instantiations of different files are
// different functions and none can be taken for another at link time.
#ifndef DYNSHARE_LC_ISA
#error "define DYNSHARE_LC_ISA (the namespace of this instruction set) before including lc_gemm_body.hpp"
#endif
#include <cstdint>
#include <cstring>

#include "trainer/lc_gemm.hpp"

namespace dynshare::trainer::DYNSHARE_LC_ISA {

#include "core/simd_vector.inc"

// C[m][coff + n] (+)= sum_k A(m, k) B[k][boff + n] for m < M, n < N, k < K,
// with A(m, k) = a[m am + k ak] and the rows of B and C given by pointers.
// Register blocks of 4 rows x 2 vectors (8 accumulators), then 4 x 1, then
// scalar columns. Every entry is summed over k in order, in any block, so
// which block a column falls in (it depends on N) does not change it.
template <class T, int Bytes>
void gemm_rows(int64_t M, int64_t N, int64_t K, const T* a, int64_t am, int64_t ak, const T* const* brow,
               int64_t boff, T* const* crow, int64_t coff, bool accumulate) {
    using S = Simd<T, Bytes>;
    using vec = typename S::vec;
    constexpr int64_t V = S::V;
    int64_t m0 = 0;
    for (; m0 + 4 <= M; m0 += 4) {
        const T* ar = a + m0 * am;
        int64_t n0 = 0;
        for (; n0 + 2 * V <= N; n0 += 2 * V) {
            vec c[4][2] = {};
            for (int64_t k = 0; k < K; ++k) {
                const T* b = brow[k] + boff + n0;
                const vec b0 = S::load(b), b1 = S::load(b + V);
                const T* ak_ = ar + k * ak;
                for (int r = 0; r < 4; ++r) {
                    const T s = ak_[r * am];
                    c[r][0] += s * b0;
                    c[r][1] += s * b1;
                }
            }
            for (int r = 0; r < 4; ++r)
                for (int h = 0; h < 2; ++h) {
                    T* dst = crow[m0 + r] + coff + n0 + h * V;
                    S::store(dst, accumulate ? S::load(dst) + c[r][h] : c[r][h]);
                }
        }
        for (; n0 + V <= N; n0 += V) {
            vec c[4] = {};
            for (int64_t k = 0; k < K; ++k) {
                const vec b0 = S::load(brow[k] + boff + n0);
                const T* ak_ = ar + k * ak;
                for (int r = 0; r < 4; ++r) c[r] += ak_[r * am] * b0;
            }
            for (int r = 0; r < 4; ++r) {
                T* dst = crow[m0 + r] + coff + n0;
                S::store(dst, accumulate ? S::load(dst) + c[r] : c[r]);
            }
        }
        for (; n0 < N; ++n0)
            for (int r = 0; r < 4; ++r) {
                T s = 0;
                for (int64_t k = 0; k < K; ++k) s += ar[r * am + k * ak] * brow[k][boff + n0];
                T& dst = crow[m0 + r][coff + n0];
                dst = accumulate ? dst + s : s;
            }
    }
    for (; m0 < M; ++m0)
        for (int64_t n = 0; n < N; ++n) {
            T s = 0;
            for (int64_t k = 0; k < K; ++k) s += a[m0 * am + k * ak] * brow[k][boff + n];
            T& dst = crow[m0][coff + n];
            dst = accumulate ? dst + s : s;
        }
}

// C[m][n] = sum_k A[m][k] B[n][k] (dot products of rows; rows of A at stride
// lda, rows of B by pointer; C rows at stride ldc). Blocks of MR x NR rows
// (MR NR accumulators + MR + NR loads must fit the register file: 4 x 4 with
// 32 vector registers, 2 x 4 with 16), vectors along k, one horizontal sum
// per entry. Each entry's order is that of its k lanes, whatever the block.
template <class T, int Bytes, int MR, int NR>
void gemm_dots(int64_t M, int64_t N, int64_t K, const T* a, int64_t lda, const T* const* brow, T* c, int64_t ldc) {
    using S = Simd<T, Bytes>;
    using vec = typename S::vec;
    constexpr int64_t V = S::V;
    const int64_t Kv = K - K % V;
    auto tail = [&](const T* x, const T* y) {
        T s = 0;
        for (int64_t k = Kv; k < K; ++k) s += x[k] * y[k];
        return s;
    };
    auto one = [&](int64_t m, int64_t n) {
        vec acc = {};
        for (int64_t k = 0; k < Kv; k += V) acc += S::load(a + m * lda + k) * S::load(brow[n] + k);
        c[m * ldc + n] = S::sum(acc) + tail(a + m * lda, brow[n]);
    };
    int64_t m0 = 0;
    for (; m0 + MR <= M; m0 += MR) {
        int64_t n0 = 0;
        for (; n0 + NR <= N; n0 += NR) {
            vec acc[MR][NR] = {};
            for (int64_t k = 0; k < Kv; k += V) {
                vec av[MR], bv[NR];
                for (int r = 0; r < MR; ++r) av[r] = S::load(a + (m0 + r) * lda + k);
                for (int q = 0; q < NR; ++q) bv[q] = S::load(brow[n0 + q] + k);
                for (int r = 0; r < MR; ++r)
                    for (int q = 0; q < NR; ++q) acc[r][q] += av[r] * bv[q];
            }
            for (int r = 0; r < MR; ++r)
                for (int q = 0; q < NR; ++q)
                    c[(m0 + r) * ldc + n0 + q] = S::sum(acc[r][q]) + tail(a + (m0 + r) * lda, brow[n0 + q]);
        }
        for (; n0 < N; ++n0)
            for (int r = 0; r < MR; ++r) one(m0 + r, n0);
    }
    for (; m0 < M; ++m0)
        for (int64_t n = 0; n < N; ++n) one(m0, n);
}

// The function table of this instruction set.
template <class T, int Bytes, int MR, int NR>
LcGemm<T> table(const char* name) {
    return LcGemm<T>{&gemm_rows<T, Bytes>, &gemm_dots<T, Bytes, MR, NR>, Simd<T, Bytes>::V, name};
}

}  // namespace dynshare::trainer::DYNSHARE_LC_ISA
