// SNR_w of Eq. 6 and the theoretical minimum of -log SNR_w from Eq. 5.
#pragma once
#include <cstdint>
#include <vector>

namespace dynshare {

// Eq. 6: (1/K) sum_j mean_i(w_ij)^2 / var_i(w_ij) over the n rows of w
// (n x K, row-major, population variance). +inf when some variance is 0.
double snr_w(const double* w, int64_t n, int64_t k);
double neg_log_snr(const double* w, int64_t n, int64_t k);

// Same over a subset of rows (indices into w), used per module of an LC layer.
double snr_w_rows(const double* w, const int64_t* rows, int64_t n, int64_t k);

// Eq. 5: w_i* = (C + gamma I)^{-1} (C mean_j w0_j + gamma w0_i), with
// C = (1/M) sum_m x_m x_m^T given as K x K row-major. Returns w* (n x K).
std::vector<double> eq5_fixed_point(const std::vector<double>& C, const std::vector<double>& w0,
                                    int64_t n, int64_t k, double gamma);

// -log SNR_w of the Eq. 5 fixed point: the dashed lines of Fig. 4A.
// gamma = 0 gives -inf (the weights become exactly shared).
double theory_min_neg_log_snr(const std::vector<double>& C, const std::vector<double>& w0,
                              int64_t n, int64_t k, double gamma);

}  // namespace dynshare
