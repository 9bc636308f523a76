#include "core/presentation.hpp"

#include <algorithm>
#include <cmath>

#include "models/ideal.hpp"

namespace dynshare {

namespace {
// Dot products with four fixed lanes: the compiler can vectorise them without
// reassociation flags, and the summation order (hence the result) is fixed.
constexpr int kLanes = 4;
double dot(const double* a, const double* b, int64_t k) {
    double acc[kLanes] = {0.0, 0.0, 0.0, 0.0};
    int64_t j = 0;
    for (; j + kLanes <= k; j += kLanes)
        for (int l = 0; l < kLanes; ++l) acc[l] += a[j + l] * b[j + l];
    for (; j < k; ++j) acc[0] += a[j] * b[j];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}
double sum(const double* a, int64_t n) {
    double acc[kLanes] = {0.0, 0.0, 0.0, 0.0};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l];
    for (; i < n; ++i) acc[0] += a[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}
// One Euler step of the neurons of one module (restrict-qualified so the
// compiler vectorises it; two loops so neither carries a branch).
void euler_module(int64_t n, double h, double drive0, double bias, double mu, double gamma, double eta,
                  const ReducedShared old, double* __restrict r, double* __restrict c, double* __restrict e,
                  const double* __restrict sw, const double* __restrict sv, const double* __restrict sd,
                  const double* __restrict xx) {
    if (eta > 0.0) {
        for (int64_t i = 0; i < n; ++i) {
            const double z = reduced_drive(old, sw[i], sv[i], sd[i], xx[i], c[i]);
            const double ri = r[i];
            r[i] = ri + h * (-ri + z + drive0);
            const double ei = mu * e[i] + gamma * c[i] + (ri - bias);  // momentum_step_neuron, inlined
            e[i] = ei;
            c[i] = c[i] - eta * ei;
        }
    } else {
        for (int64_t i = 0; i < n; ++i) {
            const double z = reduced_drive(old, sw[i], sv[i], sd[i], xx[i], c[i]);
            r[i] = r[i] + h * (-r[i] + z + drive0);
        }
    }
}
// w = w^s + F v^s + G D + c x and v = A v^s + B D + e x for one neuron, in place.
void materialize_row(int64_t k, const ReducedShared s, double ci, double ei, const double* __restrict x,
                     const double* __restrict w0, double* __restrict w, double* __restrict v) {
    for (int64_t j = 0; j < k; ++j) {
        const double ws = w[j], vs = v[j], d = ws - w0[j];
        w[j] = ws + s.F * vs + s.G * d + ci * x[j];
        v[j] = s.A * vs + s.B * d + ei * x[j];
    }
}
// Continuous form (A = 1, B = F = e = 0): only w = w^s + G D + c x changes.
void materialize_weights_row(int64_t k, double G, double ci, const double* __restrict x,
                             const double* __restrict w0, double* __restrict w) {
    for (int64_t j = 0; j < k; ++j) w[j] = w[j] + G * (w[j] - w0[j]) + ci * x[j];
}
// Eq. 4 with momentum for one neuron's weights (restrict: vectorises).
void ideal_row(int64_t k, double z, double zbar, double mu, double gamma, double eta, const double* __restrict x,
               const double* __restrict w0, double* __restrict w, double* __restrict v) {
    for (int64_t j = 0; j < k; ++j) {
        v[j] = mu * v[j] + ideal_grad(z, zbar, x[j], w[j], w0[j], gamma);
        w[j] -= eta * v[j];
    }
}
}  // namespace

void PresentationIntegrator::begin(LayerBlock& block, InputView in, int64_t s0) {
    b_ = &block;
    in_ = in;
    s0_ = s0;
    j_ = 0;
    t_local_ = 0.0;
    shared_ = ReducedShared{};
    const int64_t n = block.n, k = block.k;
    sw_.assign(n, 0.0);
    sv_.assign(n, 0.0);
    sd_.assign(n, 0.0);
    xx_.assign(n, 0.0);
    c_.assign(n, 0.0);
    e_.assign(n, 0.0);
    means_.assign(block.modules(), 0.0);
    rnew_.assign(n, 0.0);
    if (p_.model == ModelKind::ideal) return;
    const double xx_shared = in.stride == 0 ? dot(in.x, in.x, k) : 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double* x = in.row(i);
        sw_[i] = dot(&block.w[i * k], x, k);
        // The continuous form has no momentum: v stays as it is, v.x is unused.
        sv_[i] = p_.continuous ? 0.0 : dot(&block.v[i * k], x, k);
        sd_[i] = sw_[i] - dot(&block.w0[i * k], x, k);
        xx_[i] = in.stride == 0 ? xx_shared : dot(x, x, k);
    }
}

void PresentationIntegrator::module_means(const double* r, std::vector<double>& means) const {
    const auto& off = b_->module_offsets;
    for (int64_t m = 0; m + 1 < static_cast<int64_t>(off.size()); ++m)
        means[m] = sum(r + off[m], off[m + 1] - off[m]) / static_cast<double>(off[m + 1] - off[m]);
}

void PresentationIntegrator::advance_to(int64_t j) {
    if (p_.model == ModelKind::ideal) {
        if (j_ == 0 && j >= 1) ideal_step();
        j_ = std::max(j_, std::min<int64_t>(j, 1));
        return;
    }
    if (!p_.continuous) {
        while (j_ < j) {
            if (p_.integrator == Integrator::rk4) rk4_discrete_step();
            else euler_discrete_step();
            ++j_;
            ++substeps_;
        }
        return;
    }
    const double t_end = static_cast<double>(j) * p_.dt;
    switch (p_.integrator) {
        case Integrator::dopri5: continuous_dopri5(t_end); break;
        case Integrator::exponential:
            while (t_local_ < t_end - 1e-12 * p_.dt) {
                // Sub-step: at most macro_step, and short enough that the weight
                // change along x moves the drive by <= 10% (kappa |x|^2 h <= 0.1);
                // never shorter than dt (the model's own clock).
                double xx_max = 0.0;
                for (double v : xx_) xx_max = std::max(xx_max, v);
                const double kappa = p_.kappa_at((t_local_ / p_.dt) + static_cast<double>(s0_));
                double h = p_.macro_step;
                if (kappa * xx_max > 0) h = std::min(h, 0.1 / (kappa * xx_max));
                h = std::max(h, p_.dt);
                h = std::min(h, t_end - t_local_);
                exponential_substep(h);
            }
            break;
        default:
            while (j_ < j) {
                continuous_fixed_step(p_.dt);
                ++j_;
            }
            break;
    }
    j_ = j;
    t_local_ = t_end;
}

// Explicit Euler on rates and (discrete) momentum plasticity, O(1) per neuron.
void PresentationIntegrator::euler_discrete_step() {
    LayerBlock& b = *b_;
    const double h = p_.dt / p_.ei.tau;
    const double bias = p_.ei.bias, alpha = p_.ei.alpha;
    const double eta = p_.plastic ? p_.schedule(s0_ + j_) : 0.0;
    module_means(b.r.data(), means_);
    const ReducedShared old = shared_;
    const auto& off = b.module_offsets;
    for (int64_t m = 0; m + 1 < static_cast<int64_t>(off.size()); ++m) {
        const int64_t i0 = off[m], cnt = off[m + 1] - off[m];
        const double q = b.r_inh[m];
        euler_module(cnt, h, -alpha * q + bias, bias, p_.mu, p_.gamma, eta, old, &b.r[i0], &c_[i0], &e_[i0],
                     &sw_[i0], &sv_[i0], &sd_[i0], &xx_[i0]);
        b.r_inh[m] = q + h * (-q + means_[m] - bias);
    }
    if (eta > 0.0) shared_ = momentum_step_shared(old, p_.mu, p_.gamma, eta);
}

// Classic RK4 for the rates with the drive z held over the step, then the
// same discrete plasticity as Euler (operator splitting, plasticity per step).
void PresentationIntegrator::rk4_discrete_step() {
    LayerBlock& b = *b_;
    const int64_t n = b.n, M = b.modules();
    const double dt = p_.dt;
    const double eta = p_.plastic ? p_.schedule(s0_ + j_) : 0.0;
    const auto& off = b.module_offsets;
    std::vector<double>& z = rnew_;
    for (int64_t i = 0; i < n; ++i) z[i] = drive(i);
    scratch_.assign(4 * (n + M) + (n + M), 0.0);
    double* k = scratch_.data();              // 4 stages, each n rates + M inhibitory
    double* ytmp = k + 4 * (n + M);
    std::vector<double> mean_tmp(M);
    auto rhs = [&](const double* r, const double* q, double* dr, double* dq) {
        module_means(r, mean_tmp);
        for (int64_t m = 0; m < M; ++m) {
            for (int64_t i = off[m]; i < off[m + 1]; ++i) dr[i] = ei_drdt(p_.ei, r[i], z[i], q[m]);
            dq[m] = ei_drinh_dt(p_.ei, q[m], mean_tmp[m]);
        }
    };
    const double c[4] = {0.0, 0.5, 0.5, 1.0};
    for (int s = 0; s < 4; ++s) {
        double* ks = k + s * (n + M);
        if (s == 0) {
            rhs(b.r.data(), b.r_inh.data(), ks, ks + n);
            continue;
        }
        const double* kp = k + (s - 1) * (n + M);
        for (int64_t i = 0; i < n; ++i) ytmp[i] = b.r[i] + c[s] * dt * kp[i];
        for (int64_t m = 0; m < M; ++m) ytmp[n + m] = b.r_inh[m] + c[s] * dt * kp[n + m];
        rhs(ytmp, ytmp + n, ks, ks + n);
    }
    const double bias = p_.ei.bias;
    if (eta > 0.0) {
        for (int64_t i = 0; i < n; ++i) momentum_step_neuron(p_.mu, p_.gamma, eta, b.r[i] - bias, c_[i], e_[i]);
        shared_ = momentum_step_shared(shared_, p_.mu, p_.gamma, eta);
    }
    auto combine = [&](int64_t idx) {
        return (k[idx] + 2.0 * k[(n + M) + idx] + 2.0 * k[2 * (n + M) + idx] + k[3 * (n + M) + idx]) / 6.0;
    };
    for (int64_t i = 0; i < n; ++i) b.r[i] += dt * combine(i);
    for (int64_t m = 0; m < M; ++m) b.r_inh[m] += dt * combine(n + m);
}

// Eq. 4: one iteration per presentation, directly on the weights.
void PresentationIntegrator::ideal_step() {
    LayerBlock& b = *b_;
    const int64_t k = b.k;
    const double eta = p_.plastic ? p_.schedule(s0_) : 0.0;
    if (eta == 0.0) return;
    std::vector<double>& z = rnew_;
    for (int64_t i = 0; i < b.n; ++i) z[i] = dot(&b.w[i * k], in_.row(i), k);
    module_means(z.data(), means_);
    const auto& off = b.module_offsets;
    for (int64_t m = 0; m + 1 < static_cast<int64_t>(off.size()); ++m) {
        for (int64_t i = off[m]; i < off[m + 1]; ++i)
            ideal_row(k, z[i], means_[m], p_.mu, p_.gamma, eta, in_.row(i), &b.w0[i * k], &b.w[i * k], &b.v[i * k]);
    }
}

void PresentationIntegrator::current_weights(std::vector<double>& out) const {
    const LayerBlock& b = *b_;
    const int64_t k = b.k;
    out.resize(b.n * k);
    if (p_.model == ModelKind::ideal) {
        out = b.w;
        return;
    }
    for (int64_t i = 0; i < b.n; ++i) {
        const double* x = in_.row(i);
        const double* ws = &b.w[i * k];
        const double* vs = &b.v[i * k];
        const double* w0 = &b.w0[i * k];
        double* o = &out[i * k];
        for (int64_t j = 0; j < k; ++j)
            o[j] = ws[j] + shared_.F * vs[j] + shared_.G * (ws[j] - w0[j]) + c_[i] * x[j];
    }
}

bool PresentationIntegrator::state_finite() const {
    // O(N): the weights are finite combinations of these coordinates.
    const ReducedShared& s = shared_;
    double acc = s.A + s.B + s.F + s.G;
    for (int64_t i = 0; i < b_->n; ++i) acc += b_->r[i] + c_[i] + e_[i];
    for (double q : b_->r_inh) acc += q;
    // Ideal: the drives z_i = w_i . x_i of the last iteration (in rnew_) see every weight along x.
    if (p_.model == ModelKind::ideal) acc += sum(rnew_.data(), b_->n);
    return std::isfinite(acc);
}

void PresentationIntegrator::end() {
    LayerBlock& b = *b_;
    if (p_.model == ModelKind::ideal) return;
    const int64_t k = b.k;
    for (int64_t i = 0; i < b.n; ++i) {
        if (p_.continuous)
            materialize_weights_row(k, shared_.G, c_[i], in_.row(i), &b.w0[i * k], &b.w[i * k]);
        else
            materialize_row(k, shared_, c_[i], e_[i], in_.row(i), &b.w0[i * k], &b.w[i * k], &b.v[i * k]);
    }
}

}  // namespace dynshare
