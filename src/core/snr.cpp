// SPDX-License-Identifier: BSD-3-Clause
#include "dynshare/snr.hpp"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/stack_plan.hpp"
#include "models/snr_sums.hpp"

namespace dynshare {

namespace {

struct Averages {
    double snr = 0.0, abs_over_std = 0.0;  // averaged over the modules
    bool finite = true;                    // every sum (and reference weight) finite
};

// One pass per module, row by row (vectorises along j), with sums shifted by
// the module's first row (models/snr_sums.hpp). Modules run in parallel (the
// SNR before and after every training sleep phase is over a few million
// weights, and the other thread waited); each module's terms are summed in
// module order afterwards, so the result is the same for any thread count.
template <class T, bool kAbsOverStd>
Averages module_averages(const T* w, int64_t k, const int64_t* rows, const int64_t* offsets, int64_t modules) {
    std::vector<double> snr_of(static_cast<size_t>(modules)), mas_of(static_cast<size_t>(modules));
    std::vector<char> finite_of(static_cast<size_t>(modules));
    const bool par = !omp_in_parallel() && modules > 1 && (offsets[modules] - offsets[0]) * k >= (int64_t(1) << 16);
#pragma omp parallel if (par)
    {
        std::vector<double> s1(k), s2(k);
#pragma omp for schedule(static)
        for (int64_t m = 0; m < modules; ++m) {
            const int64_t r0 = offsets[m], n = offsets[m + 1] - offsets[m];
            std::fill(s1.begin(), s1.end(), 0.0);
            std::fill(s2.begin(), s2.end(), 0.0);
            const T* ref = w + rows[r0] * k;
            // Rows that follow each other in memory (a single layer, most modules of
            // a stack) take a loop the compiler vectorises better than a gather.
            bool contiguous = true;
            for (int64_t i = 1; i < n && contiguous; ++i) contiguous = rows[r0 + i] == rows[r0] + i;
            auto accumulate = [&](auto row) {
                double* __restrict a1 = s1.data();
                double* __restrict a2 = s2.data();
                for (int64_t i = 1; i < n; ++i) {
                    const T* __restrict wi = w + row(i) * k;
                    for (int64_t j = 0; j < k; ++j)
                        snr_accumulate(static_cast<double>(wi[j]), static_cast<double>(ref[j]), a1[j], a2[j]);
                }
            };
            if (contiguous) accumulate([&](int64_t i) { return rows[r0] + i; });
            else accumulate([&](int64_t i) { return rows[r0 + i]; });
            // Overflow check: s1 + s2 is finite exactly when both are (one test per module).
            double check = 0.0;
            for (int64_t j = 0; j < k; ++j) check += s1[j] + s2[j] + static_cast<double>(ref[j]) * 0.0;
            finite_of[m] = std::isfinite(check);
            const double inv_n = 1.0 / static_cast<double>(n);
            SnrModuleSum sum;
            for (int64_t j = 0; j < k; ++j) {
                const SnrMoments mo = snr_moments(s1[j], s2[j], static_cast<double>(ref[j]), inv_n);
                if (!(kAbsOverStd ? sum.add(snr_term(mo)) : sum.add_snr(mo))) break;
            }
            const double snr = sum.snr, mas = sum.abs_over_std;
            snr_of[m] = snr;
            mas_of[m] = mas;
        }
    }
    SnrLayerSum total;
    bool finite = true;
    for (int64_t m = 0; m < modules; ++m) {
        total.add_module(snr_of[m], mas_of[m], static_cast<double>(k));
        finite = finite && finite_of[m];
    }
    const double md = static_cast<double>(modules);
    return {total.snr_total / md, total.mean_abs_over_std(md), finite};
}

}  // namespace

template <class T>
LayerSnr module_snr(const T* w, int64_t k, const int64_t* rows, const int64_t* offsets, int64_t modules,
                    bool abs_over_std) {
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    if (modules <= 0 || k <= 0) return {nan, nan};
    if (!abs_over_std) {
        const Averages a = module_averages<T, false>(w, k, rows, offsets, modules);
        return {-std::log(a.snr), nan, a.finite};
    }
    const Averages a = module_averages<T, true>(w, k, rows, offsets, modules);
    return {-std::log(a.snr), a.abs_over_std, a.finite};
}
template LayerSnr module_snr<double>(const double*, int64_t, const int64_t*, const int64_t*, int64_t, bool);
template LayerSnr module_snr<float>(const float*, int64_t, const int64_t*, const int64_t*, int64_t, bool);

double snr_w_rows(const double* w, const int64_t* rows, int64_t n, int64_t k) {
    if (n <= 0 || k <= 0) return std::numeric_limits<double>::quiet_NaN();
    const int64_t offsets[2] = {0, n};
    return module_averages<double, false>(w, k, rows, offsets, 1).snr;
}

double snr_w(const double* w, int64_t n, int64_t k) {
    if (n <= 0) return std::numeric_limits<double>::quiet_NaN();
    std::vector<int64_t> rows(static_cast<size_t>(n));
    std::iota(rows.begin(), rows.end(), int64_t{0});
    return snr_w_rows(w, rows.data(), n, k);
}

double neg_log_snr(const double* w, int64_t n, int64_t k) { return -std::log(snr_w(w, n, k)); }

LayerSnr lc_snr(const LcGeometry& g, const double* w, int period) {
    LayerPlan pl;
    pl.g = g;
    pl.period = std::max(1, period);
    build_lc_modules(pl);
    std::vector<int64_t> rows(pl.snr_rows.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = pl.order[pl.snr_rows[i]];  // LC indices
    return module_snr(w, g.fan_in(), rows.data(), pl.snr_offsets.data(), int64_t(pl.snr_offsets.size()) - 1);
}

double lc_snr_authors(const LcGeometry& g, const double* w) {
    std::vector<int64_t> inner;  // non-border positions of a channel
    for (int y = 0; y < g.h_out(); ++y)
        for (int x = 0; x < g.w_out(); ++x)
            if (!g.is_border(y, x)) inner.push_back(int64_t(y) * g.w_out() + x);
    const int64_t n = int64_t(inner.size());
    if (n < 2) return std::numeric_limits<double>::quiet_NaN();
    // Period 1: one module per channel; its |mean| / std uses the population std.
    const double value = lc_snr(g, w, 1).mean_abs_over_std * std::sqrt(double(n - 1) / double(n));
    if (std::isfinite(value)) return value;
    // A zero std somewhere (an input whose weights are equal at every
    // position, as instant sharing over full modules leaves them) makes the
    // module form +inf; the authors replace such a std by 1e-20 instead.
    // Their rule, term by term (NaN weights stay NaN).
    const int64_t k = g.fan_in(), positions = int64_t(g.h_out()) * g.w_out();
    double total = 0.0;
    for (int c = 0; c < g.c_out; ++c)
        for (int64_t j = 0; j < k; ++j) {
            const double* col = w + int64_t(c) * positions * k + j;
            const double ref = col[inner[0] * k];
            double s1 = 0.0, s2 = 0.0;
            for (int64_t i = 1; i < n; ++i) snr_accumulate(col[inner[i] * k], ref, s1, s2);
            const SnrMoments mo = snr_moments(s1, s2, ref, 1.0 / double(n));
            double sd = std::sqrt(std::max(0.0, mo.var) * double(n) / double(n - 1));
            if (sd == 0.0) sd = 1e-20;
            total += std::abs(mo.mean) / sd;
        }
    return total / (double(g.c_out) * double(k));
}

std::vector<double> eq5_fixed_point(const std::vector<double>& C, const std::vector<double>& w0,
                                    int64_t n, int64_t k, double gamma) {
    using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const Mat> c(C.data(), k, k);
    const Eigen::Map<const Mat> W0(w0.data(), n, k);
    const Eigen::RowVectorXd mean0 = W0.colwise().mean();
    const Mat A = c + gamma * Mat::Identity(k, k);
    // Right-hand sides as columns: C mean0 + gamma w0_i for every i.
    Mat rhs = (gamma * W0).transpose();
    rhs.colwise() += c * mean0.transpose();
    const Mat sol = A.colPivHouseholderQr().solve(rhs);
    std::vector<double> out(n * k);
    Eigen::Map<Mat>(out.data(), n, k) = sol.transpose();
    return out;
}

double theory_min_neg_log_snr(const std::vector<double>& C, const std::vector<double>& w0,
                              int64_t n, int64_t k, double gamma) {
    if (gamma == 0.0) return -std::numeric_limits<double>::infinity();
    const std::vector<double> w = eq5_fixed_point(C, w0, n, k, gamma);
    return neg_log_snr(w.data(), n, k);
}

}  // namespace dynshare
