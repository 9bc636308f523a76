// The continuous plasticity form, dw_i/dt = -kappa(t) [(r_i - b) x_i + gamma (w_i - w_i^init)],
// integrated jointly with the rates. In reduced coordinates (no momentum:
// A = 1, B = F = e = 0) the state is y = [r (n), c (n), r_inh (modules), G].
#include <algorithm>
#include <boost/numeric/odeint.hpp>
#include <cmath>

#include "core/presentation.hpp"

namespace dynshare {

void PresentationIntegrator::pack_state(std::vector<double>& y) const {
    const LayerBlock& b = *b_;
    y.resize(2 * b.n + b.modules() + 1);
    std::copy(b.r.begin(), b.r.end(), y.begin());
    std::copy(c_.begin(), c_.end(), y.begin() + b.n);
    std::copy(b.r_inh.begin(), b.r_inh.end(), y.begin() + 2 * b.n);
    y.back() = shared_.G;
}

void PresentationIntegrator::unpack_state(const std::vector<double>& y) {
    LayerBlock& b = *b_;
    std::copy(y.begin(), y.begin() + b.n, b.r.begin());
    std::copy(y.begin() + b.n, y.begin() + 2 * b.n, c_.begin());
    std::copy(y.begin() + 2 * b.n, y.begin() + 2 * b.n + b.modules(), b.r_inh.begin());
    shared_.G = y.back();
}

void PresentationIntegrator::continuous_rhs(const double* y, double* dy, double step_real) const {
    const LayerBlock& b = *b_;
    const int64_t n = b.n;
    const double* r = y;
    const double* c = y + n;
    const double* q = y + 2 * n;
    const double G = y[2 * n + b.modules()];
    const double kappa = p_.kappa_at(step_real);
    const double bias = p_.ei.bias;
    const auto& off = b.module_offsets;
    for (int64_t m = 0; m + 1 < static_cast<int64_t>(off.size()); ++m) {
        double sum = 0.0;
        for (int64_t i = off[m]; i < off[m + 1]; ++i) {
            const double z = sw_[i] + G * sd_[i] + c[i] * xx_[i];
            dy[i] = ei_drdt(p_.ei, r[i], z, q[m]);
            dy[n + i] = -kappa * ((r[i] - bias) + p_.gamma * c[i]);
            sum += r[i];
        }
        dy[2 * n + m] = ei_drinh_dt(p_.ei, q[m], sum / static_cast<double>(off[m + 1] - off[m]));
    }
    dy[2 * n + b.modules()] = -kappa * p_.gamma * (1.0 + G);
}

// Euler or classic RK4 on the joint state, step h.
void PresentationIntegrator::continuous_fixed_step(double h) {
    std::vector<double> y;
    pack_state(y);
    const size_t d = y.size();
    const double s = static_cast<double>(s0_) + t_local_ / p_.dt;
    const double hs = h / p_.dt;  // h in steps, for the schedule's clock
    scratch_.assign(5 * d, 0.0);
    double* k1 = scratch_.data();
    continuous_rhs(y.data(), k1, s);
    if (p_.integrator == Integrator::euler) {
        for (size_t i = 0; i < d; ++i) y[i] += h * k1[i];
    } else {
        double *k2 = k1 + d, *k3 = k2 + d, *k4 = k3 + d, *yt = k4 + d;
        for (size_t i = 0; i < d; ++i) yt[i] = y[i] + 0.5 * h * k1[i];
        continuous_rhs(yt, k2, s + 0.5 * hs);
        for (size_t i = 0; i < d; ++i) yt[i] = y[i] + 0.5 * h * k2[i];
        continuous_rhs(yt, k3, s + 0.5 * hs);
        for (size_t i = 0; i < d; ++i) yt[i] = y[i] + h * k3[i];
        continuous_rhs(yt, k4, s + hs);
        for (size_t i = 0; i < d; ++i) y[i] += h * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0;
    }
    unpack_state(y);
    t_local_ += h;
    ++substeps_;
}

// Adaptive Dormand-Prince 5(4) from Boost.Odeint with the configured tolerances.
void PresentationIntegrator::continuous_dopri5(double t_end) {
    namespace ode = boost::numeric::odeint;
    if (t_end <= t_local_) return;
    std::vector<double> y;
    pack_state(y);
    auto stepper = ode::make_controlled(p_.abs_tol, p_.rel_tol, ode::runge_kutta_dopri5<std::vector<double>>());
    auto system = [this](const std::vector<double>& x, std::vector<double>& dx, double t) {
        continuous_rhs(x.data(), dx.data(), static_cast<double>(s0_) + t / p_.dt);
    };
    substeps_ += static_cast<int64_t>(ode::integrate_adaptive(stepper, system, y, t_local_, t_end, p_.dt));
    unpack_state(y);
}

// Exponential integrator: the rates are solved exactly over the sub-step for
// the drive z held at its start value (exact when plasticity is off); the
// plasticity uses the exact integral of r - b over the sub-step, the exact
// gamma decay, and kappa at the sub-step's midpoint. See docs/integrators.md.
void PresentationIntegrator::exponential_substep(double h) {
    LayerBlock& b = *b_;
    const double kappa = p_.kappa_at(static_cast<double>(s0_) + (t_local_ + 0.5 * h) / p_.dt);
    const double tau = p_.ei.tau, bias = p_.ei.bias;
    const double E = std::exp(-h / tau);
    const double one_minus_E = -std::expm1(-h / tau);
    const double decay = continuous_decay(kappa, p_.gamma, h);
    const double kphi = kappa * continuous_phi(kappa, p_.gamma, h);
    const auto& off = b.module_offsets;
    for (int64_t m = 0; m + 1 < static_cast<int64_t>(off.size()); ++m) {
        const double cnt = static_cast<double>(off[m + 1] - off[m]);
        double zsum = 0.0, rsum = 0.0;
        for (int64_t i = off[m]; i < off[m + 1]; ++i) {
            rnew_[i] = drive(i);
            zsum += rnew_[i];
            rsum += b.r[i];
        }
        const double zbar = zsum / cnt, mean_r = rsum / cnt;
        const MeanInhStep st = ei_mean_inh_exact(p_.ei, mean_r, b.r_inh[m], zbar, h);
        for (int64_t i = off[m]; i < off[m + 1]; ++i) {
            const double zeta = rnew_[i] - zbar;
            const double delta = b.r[i] - mean_r;
            const double int_delta = zeta * h + (delta - zeta) * tau * one_minus_E;
            b.r[i] = st.m + zeta + (delta - zeta) * E;
            c_[i] = c_[i] * decay - kphi * (int_delta + st.integral_m - bias * h);
        }
        b.r_inh[m] = st.q;
    }
    shared_.G = -1.0 + (1.0 + shared_.G) * decay;
    t_local_ += h;
    ++substeps_;
}

}  // namespace dynshare
