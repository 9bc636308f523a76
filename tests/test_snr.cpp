// SPDX-License-Identifier: BSD-3-Clause
// Eq. 6 against hand-computed values.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "dynshare/snr.hpp"

using namespace dynshare;

TEST(Snr, HandComputedTwoByTwo) {
    // Columns (1,3): mean 2, var 1 -> 4; (2,4): mean 3, var 1 -> 9; SNR = 6.5.
    const double w[] = {1, 2, 3, 4};
    EXPECT_DOUBLE_EQ(snr_w(w, 2, 2), 6.5);
    EXPECT_DOUBLE_EQ(neg_log_snr(w, 2, 2), -std::log(6.5));
}

TEST(Snr, HandComputedThreeNeurons) {
    // One input: values 0, 1, 5 -> mean 2, var (4 + 1 + 9)/3 = 14/3 -> SNR = 4 / (14/3) = 6/7.
    const double w[] = {0, 1, 5};
    EXPECT_NEAR(snr_w(w, 3, 1), 6.0 / 7.0, 1e-15);
}

TEST(Snr, SharedWeightsGiveInfiniteSnr) {
    const double w[] = {0.5, -1, 0.5, -1, 0.5, -1};
    EXPECT_EQ(snr_w(w, 3, 2), std::numeric_limits<double>::infinity());
}

TEST(Snr, NearlySharedWeightsKeepPrecision) {
    // Mean 1e3, deviations +-1e-6: SNR = 1e6 / 1e-12 = 1e18 (a naive E[w^2] - mean^2 gives garbage).
    const double w[] = {1e3 + 1e-6, 1e3 - 1e-6};
    EXPECT_NEAR(std::log10(snr_w(w, 2, 1)), 18.0, 1e-6);
}

TEST(Snr, SubsetOfRows) {
    const double w[] = {1, 2, 100, 100, 3, 4};
    const int64_t rows[] = {0, 2};
    EXPECT_DOUBLE_EQ(snr_w_rows(w, rows, 2, 2), 6.5);
}

// The authors' form by hand: 2 channels on a 5x5 output of a 3x3 kernel with
// padding 1 (interior 3x3 = 9 positions), weights (c, y, x, j) = a deterministic
// pattern; for every (channel, input j): |mean| / unbiased std over the 9
// interior positions, then the mean over channels and inputs.
TEST(Snr, AuthorsFormByHand) {
    LcGeometry g;
    g.c_in = 1, g.h_in = 5, g.w_in = 5, g.c_out = 2, g.k = 3, g.stride = 1, g.padding = 1;
    std::vector<double> w(size_t(g.weight_count()));
    for (size_t i = 0; i < w.size(); ++i) w[i] = 1.0 + std::sin(0.7 * double(i)) + 0.01 * double(i % 9);
    double expect = 0;
    for (int c = 0; c < 2; ++c)
        for (int j = 0; j < 9; ++j) {
            double s1 = 0, s2 = 0;
            for (int y = 1; y <= 3; ++y)
                for (int x = 1; x <= 3; ++x) s1 += w[size_t(g.neuron(c, y, x) * 9 + j)];
            const double mean = s1 / 9;
            for (int y = 1; y <= 3; ++y)
                for (int x = 1; x <= 3; ++x) {
                    const double d = w[size_t(g.neuron(c, y, x) * 9 + j)] - mean;
                    s2 += d * d;
                }
            const double var = s2 / 8;  // unbiased, two-pass
            expect += std::abs(mean) / std::sqrt(var) / 18;
        }
    EXPECT_NEAR(lc_snr_authors(g, w.data()), expect, 1e-10 * expect);  // |mean|/std ~ 60: the variances lose ~4 digits
}

// An input whose weights are equal at every non-border position of its
// channel (instant sharing over full modules leaves every input so): the
// authors replace its zero std by 1e-20 (their sd + (sd == 0) * 1e-20), so it
// adds |w| * 1e20 / (inputs * channels) where the module form would be +inf.
TEST(Snr, AuthorsFormCountsAZeroStdAs1em20) {
    LcGeometry g;
    g.c_in = 1, g.h_in = 5, g.w_in = 5, g.c_out = 2, g.k = 3, g.stride = 1, g.padding = 1;
    std::vector<double> w(size_t(g.weight_count()));
    for (size_t i = 0; i < w.size(); ++i) w[i] = 1.0 + std::sin(0.7 * double(i)) + 0.01 * double(i % 9);
    const double finite = lc_snr_authors(g, w.data());
    // Input j = 4 of channel 1: one value at every position (border ones too).
    for (int y = 0; y < 5; ++y)
        for (int x = 0; x < 5; ++x) w[size_t(g.neuron(1, y, x) * 9 + 4)] = -0.25;
    const double shared = lc_snr_authors(g, w.data());
    ASSERT_TRUE(std::isfinite(shared));
    EXPECT_NEAR(shared, 0.25 * 1e20 / 18, 1e-12 * shared);  // the other 17 terms (~60 each) vanish beside it
    // Every input of both channels shared: each term is |w| / 1e-20.
    for (int c = 0; c < 2; ++c)
        for (int y = 0; y < 5; ++y)
            for (int x = 0; x < 5; ++x)
                for (int j = 0; j < 9; ++j) w[size_t(g.neuron(c, y, x) * 9 + j)] = j == 0 ? 0.0 : 0.5 * (c + 1);
    EXPECT_NEAR(lc_snr_authors(g, w.data()), (8 * 0.5 + 8 * 1.0) * 1e20 / 18, 1e-12 * 1e20);
    EXPECT_GT(finite, 0.0);
}

TEST(Snr, TheoryMinimumWithIdentityCovariance) {
    // C = I: w_i* = (mean0 + gamma w0_i) / (1 + gamma); deviations shrink by gamma/(1+gamma).
    const double gamma = 0.1;
    std::vector<double> C = {1, 0, 0, 1}, w0 = {1, 2, 3, 4};
    const auto w = eq5_fixed_point(C, w0, 2, 2, gamma);
    const double s = gamma / (1 + gamma);
    EXPECT_NEAR(w[0], 2 - s, 1e-14);
    EXPECT_NEAR(w[2], 2 + s, 1e-14);
    // SNR: col 0 mean 2, var s^2; col 1 mean 3, var s^2.
    EXPECT_NEAR(theory_min_neg_log_snr(C, w0, 2, 2, gamma), -std::log((4 + 9) / (2 * s * s)), 1e-12);
}

// Modules run in parallel above 65,536 weights: one thread or two, the same
// bits, and each module's term equals snr_w over that module's rows alone.
TEST(Snr, ModulesInParallelGiveTheSerialBits) {
    const int64_t k = 72, modules = 37;
    std::vector<int64_t> offsets{0};
    for (int64_t m = 0; m < modules; ++m) offsets.push_back(offsets.back() + 20 + (m * 7) % 13);
    const int64_t n = offsets.back();
    std::vector<int64_t> rows(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) rows[size_t(i)] = (i * 11) % n;  // a permutation (11 and n coprime)
    ASSERT_NE(n % 11, 0);
    std::vector<double> w(size_t(n * k));
    uint64_t x = 12345;
    for (auto& v : w) {  // deterministic, uneven values
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        v = 0.5 + double(x >> 11) * 0x1.0p-53;
    }
    ASSERT_GE(n * k, 65536) << "large enough to run in parallel";
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    const LayerSnr one = module_snr(w.data(), k, rows.data(), offsets.data(), modules);
    omp_set_num_threads(2);
    const LayerSnr two = module_snr(w.data(), k, rows.data(), offsets.data(), modules);
    omp_set_num_threads(threads);
    EXPECT_EQ(one.neg_log_snr, two.neg_log_snr);
    EXPECT_EQ(one.mean_abs_over_std, two.mean_abs_over_std);
    double mean = 0.0;
    for (int64_t m = 0; m < modules; ++m)
        mean += snr_w_rows(w.data(), rows.data() + offsets[m], offsets[m + 1] - offsets[m], k);
    EXPECT_NEAR(two.neg_log_snr, -std::log(mean / double(modules)), 1e-12);
}
