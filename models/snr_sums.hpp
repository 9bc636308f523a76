// SPDX-License-Identifier: BSD-3-Clause
// The per-input terms of SNR_w (Eq. 6) from one-pass sums over a module's
// rows, shifted by the module's first row so that nearly shared weights
// (variance << mean^2) lose no precision:
//   s1 = sum_i (w_ij - w_1j),  s2 = sum_i (w_ij - w_1j)^2  over the n rows,
//   mean_j = w_1j + s1/n,  var_j = s2/n - (s1/n)^2  (population variance).
// SNR_w of a module is the mean over j of mean_j^2 / var_j; the second form
// is |mean_j| / std_j. A zero (or non-finite) variance makes the term +inf.
// Always double: the CPU (src/core/snr.cpp) accumulates the sums serially,
// the GPU (src/cuda/*.cu) by warp and block sums; both finish here, with the
// same module and layer sums (SnrModuleSum, SnrLayerSum).
#pragma once
#include <cmath>

#include "dynshare/hostdevice.hpp"

namespace dynshare {

// One row's weight into the shifted sums of input j.
DS_HD void snr_accumulate(double w, double ref, double& s1, double& s2) {
    const double d = w - ref;
    s1 += d;
    s2 += d * d;
}

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

// A module's terms added over its inputs in order: the sums of mean^2/var
// and of |mean|/std, +inf for both from the first input whose variance is
// not > 0 (later inputs are not added). Finish with snr_finish.
struct SnrModuleSum {
    double snr = 0.0, abs_over_std = 0.0;
    bool infinite = false;
    // false once the sum is +inf: the caller may stop adding.
    DS_HD bool add(const SnrTerm& t) {
        if (!t.finite) {
            snr = abs_over_std = INFINITY;
            infinite = true;
            return false;
        }
        snr += t.snr;
        abs_over_std += t.abs_over_std;
        return true;
    }
    DS_HD bool add_snr(const SnrMoments& m) {  // mean^2/var only (no square root)
        const double t = snr_ratio(m);
        if (t == INFINITY) {
            snr = t;
            infinite = true;
            return false;
        }
        snr += t;
        return true;
    }
};

// The layer's values from its modules' sums (k inputs each), added in module
// order: -log of the module average of SNR_w, and the average |mean|/std.
struct SnrLayerSum {
    double snr_total = 0.0, abs_over_std_total = 0.0;
    DS_HD void add_module(double snr_sum, double abs_over_std_sum, double k) {
        snr_total += snr_sum / k;
        abs_over_std_total += abs_over_std_sum / k;
    }
    DS_HD double neg_log_snr(double modules) const { return -std::log(snr_total / modules); }
    DS_HD double mean_abs_over_std(double modules) const { return abs_over_std_total / modules; }
};

}  // namespace dynshare
