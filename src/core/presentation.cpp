// SPDX-License-Identifier: BSD-3-Clause
#include "core/presentation.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "models/ei_rate.hpp"
#include "models/ideal.hpp"
#include "models/lane_sums.hpp"

namespace dynshare {

namespace {
// One Euler step of the neurons of one module (restrict-qualified so the
// compiler vectorises it; two loops so neither carries a branch).
template <class T>
void euler_module(int64_t n, T h, T drive0, T bias, T mu, T gamma, T eta, const ReducedShared old,
                  T* __restrict r, T* __restrict c, T* __restrict e, const T* __restrict sw, const T* __restrict sv,
                  const T* __restrict sd, const T* __restrict xx) {
    if (eta > T(0)) {
        for (int64_t i = 0; i < n; ++i) {
            const T z = reduced_drive<T>(old, sw[i], sv[i], sd[i], xx[i], c[i]);
            const T ri = r[i];
            r[i] = euler_rate<T>(ri, z, drive0, h);
            T ci = c[i], ei = e[i];
            momentum_step_neuron<T>(mu, gamma, eta, ri - bias, ci, ei);
            c[i] = ci;
            e[i] = ei;
        }
    } else {
        for (int64_t i = 0; i < n; ++i) {
            const T z = reduced_drive<T>(old, sw[i], sv[i], sd[i], xx[i], c[i]);
            r[i] = euler_rate<T>(r[i], z, drive0, h);
        }
    }
}
}  // namespace

template <class T>
void PresentationIntegrator<T>::begin_dots(LayerBlock<T>& block, int64_t s0) {
    b_ = &block;
    in_ = InputView<T>{};
    s0_ = s0;
    j_ = 0;
    t_local_ = 0.0;
    xx_max_ = -1.0;
    shared_ = ReducedShared{};
    const int64_t n = block.n;
    sw_.resize(n);
    sv_.resize(n);
    sd_.resize(n);
    xx_.resize(n);
    c_.resize(n);  // zeroed by the caller with the dots
    e_.resize(n);
    means_.assign(block.modules(), T(0));
    rnew_.resize(n);  // every integrator writes it before reading it
}

template <class T>
void PresentationIntegrator<T>::begin(LayerBlock<T>& block, InputView<T> in, int64_t s0) {
    b_ = &block;
    in_ = in;
    s0_ = s0;
    j_ = 0;
    t_local_ = 0.0;
    xx_max_ = -1.0;
    shared_ = ReducedShared{};
    const int64_t n = block.n, k = block.k;
    sw_.assign(n, T(0));
    sv_.assign(n, T(0));
    sd_.assign(n, T(0));
    xx_.assign(n, T(0));
    c_.assign(n, T(0));
    e_.assign(n, T(0));
    means_.assign(block.modules(), T(0));
    rnew_.assign(n, T(0));
    if (p_.model == ModelKind::ideal) return;
    const T xx_shared = in.stride == 0 && !in.rows ? lane_dot(in.x, in.x, k) : T(0);
    for (int64_t i = 0; i < n; ++i) {
        const T* x = in.row(i);
        sw_[i] = lane_dot(&block.w[i * k], x, k);
        // The continuous form has no momentum: v stays as it is, v.x is unused.
        sv_[i] = p_.continuous ? T(0) : lane_dot(&block.v[i * k], x, k);
        sd_[i] = sw_[i] - lane_dot(&block.w0[i * k], x, k);
        xx_[i] = in.stride == 0 && !in.rows ? xx_shared : lane_dot(x, x, k);
    }
}

template <class T>
void PresentationIntegrator<T>::module_means(const T* r, std::vector<T>& means) const {
    const auto& off = b_->module_offsets;
    for (int64_t m = 0; m + 1 < static_cast<int64_t>(off.size()); ++m)
        means[m] = lane_sum(r + off[m], off[m + 1] - off[m]) / static_cast<T>(off[m + 1] - off[m]);
}

template <class T>
void PresentationIntegrator<T>::advance_to(int64_t j, const std::function<void()>& alongside) {
    if (alongside && !(p_.continuous && p_.integrator == Integrator::exponential && p_.model != ModelKind::ideal))
        alongside();
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
        case Integrator::exponential: exponential_to(t_end, alongside); break;
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
template <class T>
void PresentationIntegrator<T>::euler_discrete_step() {
    LayerBlock<T>& b = *b_;
    const T h = static_cast<T>(p_.dt / p_.ei.tau);
    const T bias = static_cast<T>(p_.ei.bias), alpha = static_cast<T>(p_.ei.alpha);
    const double eta = p_.plastic ? p_.schedule(s0_ + j_) : 0.0;
    module_means(b.r.data(), means_);
    const ReducedShared old = shared_;
    const auto& off = b.module_offsets;
    for (int64_t m = 0; m + 1 < static_cast<int64_t>(off.size()); ++m) {
        const int64_t i0 = off[m], cnt = off[m + 1] - off[m];
        const T q = b.r_inh[m];
        euler_module<T>(cnt, h, -alpha * q + bias, bias, static_cast<T>(p_.mu), static_cast<T>(p_.gamma),
                        static_cast<T>(eta), old, &b.r[i0], &c_[i0], &e_[i0], &sw_[i0], &sv_[i0], &sd_[i0],
                        &xx_[i0]);
        b.r_inh[m] = euler_inh<T>(q, means_[m], bias, h);
    }
    if (eta > 0.0) shared_ = momentum_step_shared(old, p_.mu, p_.gamma, eta);
}

// Classic RK4 for the rates with the drive z held over the step, then the
// same discrete plasticity as Euler (operator splitting, plasticity per step).
template <class T>
void PresentationIntegrator<T>::rk4_discrete_step() {
    LayerBlock<T>& b = *b_;
    const int64_t n = b.n, M = b.modules();
    const T dt = static_cast<T>(p_.dt);
    const T tau = static_cast<T>(p_.ei.tau), alpha = static_cast<T>(p_.ei.alpha), bias = static_cast<T>(p_.ei.bias);
    const double eta = p_.plastic ? p_.schedule(s0_ + j_) : 0.0;
    const auto& off = b.module_offsets;
    std::vector<T>& z = rnew_;
    for (int64_t i = 0; i < n; ++i) z[i] = drive(i);
    scratch_.assign(4 * (n + M) + (n + M), T(0));
    T* k = scratch_.data();              // 4 stages, each n rates + M inhibitory
    T* ytmp = k + 4 * (n + M);
    std::vector<T> mean_tmp(M);
    auto rhs = [&](const T* r, const T* q, T* dr, T* dq) {
        module_means(r, mean_tmp);
        for (int64_t m = 0; m < M; ++m) {
            for (int64_t i = off[m]; i < off[m + 1]; ++i) dr[i] = ei_drdt<T>(tau, alpha, bias, r[i], z[i], q[m]);
            dq[m] = ei_drinh_dt<T>(tau, bias, q[m], mean_tmp[m]);
        }
    };
    rk4_stages<T>(dt, [&](int s, T c_dt) {  // models/ei_rate.hpp
        T* ks = k + s * (n + M);
        if (s == 0) {
            rhs(b.r.data(), b.r_inh.data(), ks, ks + n);
            return;
        }
        const T* kp = k + (s - 1) * (n + M);
        for (int64_t i = 0; i < n; ++i) ytmp[i] = rk4_point<T>(b.r[i], c_dt, kp[i]);
        for (int64_t m = 0; m < M; ++m) ytmp[n + m] = rk4_point<T>(b.r_inh[m], c_dt, kp[n + m]);
        rhs(ytmp, ytmp + n, ks, ks + n);
    });
    if (eta > 0.0) {
        const T mu = static_cast<T>(p_.mu), gamma = static_cast<T>(p_.gamma), teta = static_cast<T>(eta);
        for (int64_t i = 0; i < n; ++i) momentum_step_neuron<T>(mu, gamma, teta, b.r[i] - bias, c_[i], e_[i]);
        shared_ = momentum_step_shared(shared_, p_.mu, p_.gamma, eta);
    }
    const int64_t S = n + M;
    for (int64_t i = 0; i < n; ++i) b.r[i] += dt * rk4_combine<T>(k[i], k[S + i], k[2 * S + i], k[3 * S + i]);
    for (int64_t m = 0; m < M; ++m)
        b.r_inh[m] += dt * rk4_combine<T>(k[n + m], k[S + n + m], k[2 * S + n + m], k[3 * S + n + m]);
}

// Eq. 4: one iteration per presentation, directly on the weights.
template <class T>
void PresentationIntegrator<T>::ideal_step() {
    LayerBlock<T>& b = *b_;
    const int64_t k = b.k;
    const double eta = p_.plastic ? p_.schedule(s0_) : 0.0;
    if (eta == 0.0) return;
    std::vector<T>& z = rnew_;
    for (int64_t i = 0; i < b.n; ++i) z[i] = lane_dot(&b.w[i * k], in_.row(i), k);
    module_means(z.data(), means_);
    const T mu = static_cast<T>(p_.mu), gamma = static_cast<T>(p_.gamma), teta = static_cast<T>(eta);
    const auto& off = b.module_offsets;
    for (int64_t m = 0; m + 1 < static_cast<int64_t>(off.size()); ++m) {
        const T zbar = means_[m];
        for (int64_t i = off[m]; i < off[m + 1]; ++i) {
            const T* __restrict x = in_.row(i);
            const T* __restrict w0 = &b.w0[i * k];
            T* __restrict w = &b.w[i * k];
            T* __restrict v = &b.v[i * k];
            const T zi = z[i];
            for (int64_t j = 0; j < k; ++j) ideal_weight_step<T>(w[j], v[j], w0[j], x[j], zi, zbar, mu, gamma, teta);
        }
    }
}

template <class T>
void PresentationIntegrator<T>::current_weights(std::vector<T>& out) const {
    const LayerBlock<T>& b = *b_;
    const int64_t k = b.k;
    out.resize(b.n * k);
    if (p_.model == ModelKind::ideal) {
        out = b.w;
        return;
    }
    const T F = static_cast<T>(shared_.F), G = static_cast<T>(shared_.G);
    for (int64_t i = 0; i < b.n; ++i) {
        const T* x = in_.row(i);
        const T* ws = &b.w[i * k];
        const T* vs = &b.v[i * k];
        const T* w0 = &b.w0[i * k];
        T* o = &out[i * k];
        const T ci = c_[i];
        for (int64_t j = 0; j < k; ++j) o[j] = reduced_weight<T>(ws[j], vs[j], w0[j], F, G, ci, x[j]);
    }
}

template <class T>
bool PresentationIntegrator<T>::state_finite() const {
    // O(N): the weights are finite combinations of these coordinates.
    // Lane sums (models/lane_sums.hpp): one chain of dependent adds over
    // every neuron was a serial pass per presentation and layer while the
    // other threads waited; the order does not matter for a finiteness test.
    const ReducedShared& s = shared_;
    const int64_t n = b_->n;
    double acc = s.A + s.B + s.F + s.G;
    acc += static_cast<double>(lane_sum(b_->r.data(), n)) + static_cast<double>(lane_sum(c_.data(), n)) +
           static_cast<double>(lane_sum(e_.data(), n));
    for (T q : b_->r_inh) acc += q;
    // Ideal: the drives z_i = w_i . x_i of the last iteration (in rnew_) see every weight along x.
    if (p_.model == ModelKind::ideal) acc += lane_sum(rnew_.data(), b_->n);
    return std::isfinite(acc);
}

template <class T>
void PresentationIntegrator<T>::end() {
    LayerBlock<T>& b = *b_;
    if (p_.model == ModelKind::ideal) return;
    const int64_t k = b.k;
    const T A = static_cast<T>(shared_.A), B = static_cast<T>(shared_.B), F = static_cast<T>(shared_.F),
            G = static_cast<T>(shared_.G);
    for (int64_t i = 0; i < b.n; ++i) {
        const T* __restrict x = in_.row(i);
        const T* __restrict w0 = &b.w0[i * k];
        T* __restrict w = &b.w[i * k];
        const T ci = c_[i];
        if (p_.continuous) {
            for (int64_t j = 0; j < k; ++j) materialize_continuous<T>(w[j], w0[j], G, ci, x[j]);
        } else {
            T* __restrict v = &b.v[i * k];
            const T ei = e_[i];
            for (int64_t j = 0; j < k; ++j) materialize_discrete<T>(w[j], v[j], w0[j], A, B, F, G, ci, ei, x[j]);
        }
    }
}

template class PresentationIntegrator<double>;
template class PresentationIntegrator<float>;

}  // namespace dynshare
