// Eq. 8: excitatory rates r_i and one inhibitory rate r_inh per module,
//   tau dr_i/dt   = -r_i + z_i - alpha r_inh + b,     z_i = w_i . x_i
//   tau dr_inh/dt = -r_inh + mean_j r_j - b.
// The equations are linear, so the module mean m and r_inh form a closed 2D
// system, and each deviation r_i - m relaxes on its own with time constant
// tau. Both have closed-form solutions used by the exponential integrator.
#pragma once
#include <cmath>

#include "dynshare/hostdevice.hpp"

namespace dynshare {

struct EiRateParams {
    double tau = 0.03, alpha = 10.0, bias = 1.0;
};

// Right-hand sides (per unit time).
DS_HD double ei_drdt(const EiRateParams& p, double r, double z, double r_inh) {
    return (-r + z - p.alpha * r_inh + p.bias) / p.tau;
}
DS_HD double ei_drinh_dt(const EiRateParams& p, double r_inh, double mean_r) {
    return (-r_inh + mean_r - p.bias) / p.tau;
}

// Eq. 9 fixed point: r_i* = b + z_i - zbar + zbar / (1 + alpha), r_inh* = zbar / (1 + alpha).
DS_HD double ei_fixed_rate(const EiRateParams& p, double z, double zbar) {
    return p.bias + z - zbar + zbar / (1.0 + p.alpha);
}
DS_HD double ei_fixed_inh(const EiRateParams& p, double zbar) { return zbar / (1.0 + p.alpha); }

// Exact propagator of the (mean, r_inh) system over a time h with the mean
// drive zbar held constant. With u = (m - m*, q - q*) and A = [[-1,-alpha],[1,-1]]/tau,
// exp(A h) = e^{-h/tau} [cos(w s) I + sin(w s)/w J], J = [[0,-alpha],[1,0]], w = sqrt(alpha), s = h/tau.
// Also returns the integral of m over [0, h] (needed by the plasticity).
struct MeanInhStep {
    double m, q, integral_m;
};

DS_HD MeanInhStep ei_mean_inh_exact(const EiRateParams& p, double m, double q, double zbar, double h) {
    const double m_star = p.bias + zbar / (1.0 + p.alpha);
    const double q_star = zbar / (1.0 + p.alpha);
    const double u0 = m - m_star, u1 = q - q_star;
    const double s = h / p.tau;
    const double decay = std::exp(-s);
    const double w = std::sqrt(p.alpha);
    const double c = std::cos(w * s);
    const double sn = (w > 0.0) ? std::sin(w * s) / w : s;  // sin(ws)/w -> s as alpha -> 0
    // exp(A h) u0 with J u = (-alpha u1, u0)
    const double e0 = decay * (c * u0 - sn * p.alpha * u1);
    const double e1 = decay * (c * u1 + sn * u0);
    // integral_0^h exp(A t) dt u0 = A^{-1} (exp(Ah) - I) u0, A^{-1} = tau/(1+alpha) [[-1, alpha],[-1,-1]]
    const double d0 = e0 - u0, d1 = e1 - u1;
    const double k = p.tau / (1.0 + p.alpha);
    const double int0 = k * (-d0 + p.alpha * d1);
    return MeanInhStep{m_star + e0, q_star + e1, m_star * h + int0};
}

}  // namespace dynshare
