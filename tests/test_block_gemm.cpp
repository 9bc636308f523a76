// SPDX-License-Identifier: BSD-3-Clause
// The block GEMM kernels (src/core/block_gemm_*.cpp) of every instruction set
// this CPU runs, against the definition C (+)= A B summed over k in order:
//   - portable (16-byte vectors, no fused multiply-add): bit for bit, since
//     each entry is one accumulator summed in the definition's order;
//   - avx2 / avx512 (fused multiply-add): both are recursive sums of the same
//     K products in the same order, each within gamma_K sum_k |a_k b_k| of
//     the exact value (gamma_K = K u / (1 - K u), u the unit roundoff; the
//     fused form rounds once less per term), so they differ by at most
//     2 gamma_K sum_k |a_k b_k|.
// Shapes cover every path of the kernel: whole register blocks, leftover
// rows, one-vector column blocks and scalar columns, A's rows in order
// or permuted (the drives read a group's neurons where they are) and
// accumulation. Also the environment variable's bad values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/block_gemm.hpp"
#include "dynshare/errors.hpp"

namespace dynshare {
namespace {

template <class T>
void check_isa(SimdIsa isa) {
    const BlockGemm<T> g = block_gemm<T>(isa);
    EXPECT_EQ(std::string(g.name), to_string(isa));
    const bool exact = isa == SimdIsa::portable;
    const double u = std::numeric_limits<T>::epsilon() / 2;
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    for (int64_t M : {1, 3, 9, 37})
        for (int64_t N : {1, 5, 8, 20, 27, 48})
            for (int64_t K : {1, 9, 20})
                for (int layout = 0; layout < 2; ++layout)
                    for (bool accumulate : {false, true}) {
                        // A's rows K + 1 apart; layout 0: in order, 1: in reverse order.
                        const int64_t ldb = N + 3, ldc = N + 2;
                        std::vector<T> a(static_cast<size_t>(M * (K + 1))), b(static_cast<size_t>(K * ldb)),
                            c(static_cast<size_t>(M * ldc));
                        std::vector<const T*> arow(static_cast<size_t>(M));
                        for (int64_t m = 0; m < M; ++m) arow[m] = &a[(layout == 0 ? m : M - 1 - m) * (K + 1)];
                        for (T& v : a) v = static_cast<T>(dist(rng));
                        for (T& v : b) v = static_cast<T>(dist(rng));
                        for (T& v : c) v = static_cast<T>(dist(rng));
                        std::vector<T> want = c;
                        std::vector<double> bound(want.size(), 0.0);
                        for (int64_t m = 0; m < M; ++m)
                            for (int64_t n = 0; n < N; ++n) {
                                T s = 0;
                                double mag = 0;
                                for (int64_t k = 0; k < K; ++k) {
                                    s += arow[m][k] * b[k * ldb + n];
                                    mag += std::abs(double(arow[m][k]) * double(b[k * ldb + n]));
                                }
                                T& w = want[m * ldc + n];
                                const double base = accumulate ? std::abs(double(w)) : 0.0;
                                w = accumulate ? w + s : s;
                                const double gk = (K + 1) * u / (1 - (K + 1) * u);  // + 1: the accumulation's add
                                bound[m * ldc + n] = 2 * gk * (mag + base);
                            }
                        std::vector<T> got = c;
                        g.drives(M, N, K, arow.data(), b.data(), ldb, got.data(), ldc, accumulate);
                        std::vector<T> got2 = c;
                        g.update(M, N, K, arow.data(), b.data(), ldb, got2.data(), ldc, accumulate);
                        for (size_t i = 0; i < want.size(); ++i) {
                            const bool inside = static_cast<int64_t>(i % ldc) < N;
                            if (!inside || exact) {  // padding untouched; portable exact
                                ASSERT_EQ(got[i], want[i]) << "M " << M << " N " << N << " K " << K << " entry " << i;
                                ASSERT_EQ(got2[i], want[i]) << "M " << M << " N " << N << " K " << K << " entry " << i;
                            } else {
                                ASSERT_LE(std::abs(double(got[i]) - double(want[i])), bound[i]) << "M " << M << " N " << N;
                                ASSERT_LE(std::abs(double(got2[i]) - double(want[i])), bound[i]) << "M " << M << " N " << N;
                            }
                        }
                    }
}

TEST(BlockGemm, EveryInstructionSetEqualsTheDefinition) {
    const std::vector<SimdIsa> have = block_isas_available();
    ASSERT_FALSE(have.empty());
    EXPECT_EQ(have.front(), SimdIsa::portable);
    for (SimdIsa isa : have) {
        SCOPED_TRACE(to_string(isa));
        check_isa<double>(isa);
        check_isa<float>(isa);
    }
}

TEST(BlockGemm, EnvironmentNamesTheVariableAndTheAllowedValues) {
    const std::vector<SimdIsa> have = block_isas_available();
    ::setenv("DYNSHARE_TEST_KERNEL", "sse9", 1);
    try {
        isa_from_environment("DYNSHARE_TEST_KERNEL", have);
        FAIL() << "no error";
    } catch (const UserError& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("DYNSHARE_TEST_KERNEL=sse9"), std::string::npos) << m;
        EXPECT_NE(m.find("auto, portable"), std::string::npos) << m;
    }
    ::setenv("DYNSHARE_TEST_KERNEL", "portable", 1);
    EXPECT_EQ(isa_from_environment("DYNSHARE_TEST_KERNEL", have), SimdIsa::portable);
    ::setenv("DYNSHARE_TEST_KERNEL", "auto", 1);
    EXPECT_EQ(isa_from_environment("DYNSHARE_TEST_KERNEL", have), have.back());
    ::unsetenv("DYNSHARE_TEST_KERNEL");
    EXPECT_EQ(isa_from_environment("DYNSHARE_TEST_KERNEL", have), have.back());
}

}  // namespace
}  // namespace dynshare
