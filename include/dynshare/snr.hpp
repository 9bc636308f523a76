// SPDX-License-Identifier: BSD-3-Clause
// SNR_w of Eq. 6 and the theoretical minimum of -log SNR_w from Eq. 5. The
// one implementation of the metric: the engine's records (every plan, every
// precision), the trainer's per-layer SNR and the tests all call these; the
// CUDA kernels finish their device sums with the same per-input term
// (models/snr_sums.hpp).
#pragma once
#include <cstdint>
#include <vector>

#include "dynshare/lc_geometry.hpp"

namespace dynshare {

// Eq. 6: (1/K) sum_j mean_i(w_ij)^2 / var_i(w_ij) over the n rows of w
// (n x K, row-major, population variance). +inf when some variance is 0.
double snr_w(const double* w, int64_t n, int64_t k);
double neg_log_snr(const double* w, int64_t n, int64_t k);

// Same over a subset of rows (indices into w).
double snr_w_rows(const double* w, const int64_t* rows, int64_t n, int64_t k);

// Module-averaged metrics of one layer: for each module m, rows
// rows[offsets[m] .. offsets[m+1]) of w (n_total x k), Eq. 6 and the mean
// over inputs of |mean| / std; then the mean over modules. neg_log_snr is
// -log of the module-averaged SNR_w. NaN when there are no modules. T is the
// weights' scalar; the sums are double. Without `abs_over_std` that metric is
// NaN and costs nothing (a sqrt and a division per input and module).
struct LayerSnr {
    double neg_log_snr = 0.0;
    double mean_abs_over_std = 0.0;
    // False when the weights' sums overflowed or met a non-finite weight: the
    // state has diverged and the values above are no result (an exactly shared
    // module, variance 0, is finite: -log SNR_w = -inf is its true value).
    bool finite = true;
};
template <class T>
LayerSnr module_snr(const T* w, int64_t k, const int64_t* rows, const int64_t* offsets, int64_t modules,
                    bool abs_over_std = true);

// LC weights (layout of lc_geometry.hpp) with module period `period` (k for
// grid, 1 for one module per channel): modules of every channel, non-border
// neurons only, modules with fewer than two of them skipped.
LayerSnr lc_snr(const LcGeometry& g, const double* w, int period);

// The authors' SNR (their compute_non_padded_weight_average_snr): for every
// (output channel, input) weight, mean and unbiased std over the channel's
// non-border positions, then the mean of |mean| / std over channels and
// inputs; a zero std counts as 1e-20, as theirs (an input exactly shared
// over a channel adds |mean| * 1e20). Not a logarithm; larger is more shared.
// NaN when a channel has fewer than two non-border positions. The trainer's
// /epochs/snr_authors (trainer::authors_snr, on a host copy) and the stacked
// run files' snr_authors_* attributes.
double lc_snr_authors(const LcGeometry& g, const double* w);

// Eq. 5: w_i* = (C + gamma I)^{-1} (C mean_j w0_j + gamma w0_i), with
// C = (1/M) sum_m x_m x_m^T given as K x K row-major. Returns w* (n x K).
std::vector<double> eq5_fixed_point(const std::vector<double>& C, const std::vector<double>& w0,
                                    int64_t n, int64_t k, double gamma);

// -log SNR_w of the Eq. 5 fixed point: the dashed lines of Fig. 4A.
// gamma = 0 gives -inf (the weights become exactly shared).
double theory_min_neg_log_snr(const std::vector<double>& C, const std::vector<double>& w0,
                              int64_t n, int64_t k, double gamma);

}  // namespace dynshare
