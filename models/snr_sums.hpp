// The per-input terms of SNR_w (Eq. 6) from one-pass sums over a module's
// rows, shifted by the module's first row so that nearly shared weights
// (variance << mean^2) lose no precision:
//   s1 = sum_i (w_ij - w_1j),  s2 = sum_i (w_ij - w_1j)^2  over the n rows,
//   mean_j = w_1j + s1/n,  var_j = s2/n - (s1/n)^2  (population variance).
// SNR_w of a module is the mean over j of mean_j^2 / var_j; the second form
// is |mean_j| / std_j. A zero (or non-finite) variance makes the term +inf.
// Always double: the CPU (src/core/snr.cpp) accumulates the sums serially,
// the GPU (src/cuda/layer_kernels.cu) by block reductions; both finish here.
#pragma once
#include <cmath>

#include "dynshare/hostdevice.hpp"

namespace dynshare {

struct SnrMoments {
    double mean, var;
};
DS_HD SnrMoments snr_moments(double s1, double s2, double ref, double inv_n) {
    const double md = s1 * inv_n;  // mean of (w - ref)
    return SnrMoments{ref + md, s2 * inv_n - md * md};  // the variance is shift-invariant
}

// mean^2 / var, +inf when var is not > 0 (zero or NaN).
DS_HD double snr_ratio(const SnrMoments& m) { return m.var > 0.0 ? m.mean * m.mean / m.var : INFINITY; }

// Both forms at once.
struct SnrTerm {
    double snr;           // mean^2 / var
    double abs_over_std;  // |mean| / std
    bool finite;          // var > 0
};
DS_HD SnrTerm snr_term(const SnrMoments& m) {
    if (!(m.var > 0.0)) return SnrTerm{INFINITY, INFINITY, false};
    return SnrTerm{m.mean * m.mean / m.var, std::abs(m.mean) / std::sqrt(m.var), true};
}

}  // namespace dynshare
