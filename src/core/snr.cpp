#include "dynshare/snr.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <limits>

namespace dynshare {

namespace {
// One pass, row by row (vectorises along j), with sums shifted by the first
// row so that nearly shared weights (variance << mean^2) lose no precision.
template <class RowIndex>
double snr_impl(const double* w, int64_t n, int64_t k, RowIndex row) {
    if (n <= 0 || k <= 0) return std::numeric_limits<double>::quiet_NaN();
    std::vector<double> s1(k, 0.0), s2(k, 0.0);
    const double* ref = w + row(0) * k;
    for (int64_t i = 1; i < n; ++i) {
        const double* wi = w + row(i) * k;
        for (int64_t j = 0; j < k; ++j) {
            const double d = wi[j] - ref[j];
            s1[j] += d;
            s2[j] += d * d;
        }
    }
    const double inv_n = 1.0 / static_cast<double>(n);
    double total = 0.0;
    for (int64_t j = 0; j < k; ++j) {
        const double md = s1[j] * inv_n;              // mean of (w - ref)
        const double var = s2[j] * inv_n - md * md;   // shift-invariant
        const double mean = ref[j] + md;
        if (!(var > 0.0)) return std::numeric_limits<double>::infinity();
        total += mean * mean / var;
    }
    return total / static_cast<double>(k);
}
}  // namespace

double snr_w(const double* w, int64_t n, int64_t k) {
    return snr_impl(w, n, k, [](int64_t i) { return i; });
}

double snr_w_rows(const double* w, const int64_t* rows, int64_t n, int64_t k) {
    return snr_impl(w, n, k, [rows](int64_t i) { return rows[i]; });
}

double neg_log_snr(const double* w, int64_t n, int64_t k) { return -std::log(snr_w(w, n, k)); }

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
