// SPDX-License-Identifier: BSD-3-Clause
// The continuous plasticity form, dw_i/dt = -kappa(t) [(r_i - b) x_i + gamma (w_i - w_i^init)],
// integrated jointly with the rates. In reduced coordinates (no momentum:
// A = 1, B = F = e = 0) the state is y = [r (n), c (n), r_inh (modules), G].
#include <omp.h>

#include <algorithm>
#include <boost/numeric/odeint.hpp>
#include <cmath>
#include <functional>

#include "core/presentation.hpp"
#include "core/vector_clones.hpp"
#include "models/ei_rate.hpp"
#include "models/exp_substep.hpp"

namespace dynshare {

template <class T>
void PresentationIntegrator<T>::pack_state(std::vector<T>& y) const {
    const LayerBlock<T>& b = *b_;
    y.resize(2 * b.n + b.modules() + 1);
    std::copy(b.r.begin(), b.r.end(), y.begin());
    std::copy(c_.begin(), c_.end(), y.begin() + b.n);
    std::copy(b.r_inh.begin(), b.r_inh.end(), y.begin() + 2 * b.n);
    y.back() = static_cast<T>(shared_.G);
}

template <class T>
void PresentationIntegrator<T>::unpack_state(const std::vector<T>& y) {
    LayerBlock<T>& b = *b_;
    std::copy(y.begin(), y.begin() + b.n, b.r.begin());
    std::copy(y.begin() + b.n, y.begin() + 2 * b.n, c_.begin());
    std::copy(y.begin() + 2 * b.n, y.begin() + 2 * b.n + b.modules(), b.r_inh.begin());
    shared_.G = static_cast<double>(y.back());
}

template <class T>
void PresentationIntegrator<T>::continuous_rhs(const T* y, T* dy, double step_real) const {
    const LayerBlock<T>& b = *b_;
    const int64_t n = b.n;
    const T* r = y;
    const T* c = y + n;
    const T* q = y + 2 * n;
    const T G = y[2 * n + b.modules()];
    const double kappa = p_.kappa_at(step_real);
    const T tk = static_cast<T>(kappa), gamma = static_cast<T>(p_.gamma);
    const T tau = static_cast<T>(p_.ei.tau), alpha = static_cast<T>(p_.ei.alpha), bias = static_cast<T>(p_.ei.bias);
    const ReducedShared coords{1.0, 0.0, 0.0, static_cast<double>(G)};
    const auto& off = b.module_offsets;
    for (int64_t m = 0; m + 1 < static_cast<int64_t>(off.size()); ++m) {
        T sum = T(0);
        for (int64_t i = off[m]; i < off[m + 1]; ++i) {
            const T z = reduced_drive<T>(coords, sw_[i], sv_[i], sd_[i], xx_[i], c[i]);
            dy[i] = ei_drdt<T>(tau, alpha, bias, r[i], z, q[m]);
            dy[n + i] = continuous_dc_dt<T>(tk, gamma, r[i] - bias, c[i]);
            sum += r[i];
        }
        dy[2 * n + m] = ei_drinh_dt<T>(tau, bias, q[m], sum / static_cast<T>(off[m + 1] - off[m]));
    }
    dy[2 * n + b.modules()] = static_cast<T>(continuous_dG_dt(kappa, p_.gamma, static_cast<double>(G)));
}

// Euler or classic RK4 on the joint state, step h.
template <class T>
void PresentationIntegrator<T>::continuous_fixed_step(double h) {
    std::vector<T> y;
    pack_state(y);
    const size_t d = y.size();
    const double s = static_cast<double>(s0_) + t_local_ / p_.dt;
    const double hs = h / p_.dt;  // h in steps, for the schedule's clock
    const T th = static_cast<T>(h);
    scratch_.assign(5 * d, T(0));
    T* k1 = scratch_.data();
    continuous_rhs(y.data(), k1, s);
    if (p_.integrator == Integrator::euler) {
        for (size_t i = 0; i < d; ++i) y[i] += th * k1[i];
    } else {
        T *k2 = k1 + d, *k3 = k2 + d, *k4 = k3 + d, *yt = k4 + d;
        T* const ks[4] = {k1, k2, k3, k4};
        rk4_stages<T>(th, [&](int st, T c) {  // models/ei_rate.hpp; k1 is above (Euler's slope too)
            if (st == 0) return;
            for (size_t i = 0; i < d; ++i) yt[i] = rk4_point<T>(y[i], c, ks[st - 1][i]);
            continuous_rhs(yt, ks[st], st == 3 ? s + hs : s + 0.5 * hs);
        });
        for (size_t i = 0; i < d; ++i) y[i] += th * rk4_combine<T>(k1[i], k2[i], k3[i], k4[i]);
    }
    unpack_state(y);
    t_local_ += h;
    ++substeps_;
}

// Adaptive Dormand-Prince 5(4) from Boost.Odeint with the configured tolerances.
template <class T>
void PresentationIntegrator<T>::continuous_dopri5(double t_end) {
    namespace ode = boost::numeric::odeint;
    if (t_end <= t_local_) return;
    std::vector<T> y;
    pack_state(y);
    using Stepper = ode::runge_kutta_dopri5<std::vector<T>, double, std::vector<T>, double>;
    auto stepper = ode::make_controlled(p_.abs_tol, p_.rel_tol, Stepper());
    auto system = [this](const std::vector<T>& x, std::vector<T>& dx, double t) {
        continuous_rhs(x.data(), dx.data(), static_cast<double>(s0_) + t / p_.dt);
    };
    substeps_ += static_cast<int64_t>(ode::integrate_adaptive(stepper, system, y, t_local_, t_end, p_.dt));
    unpack_state(y);
}

// Exponential integrator: the rates are solved exactly over the sub-step for
// the drive z held at its start value (exact when plasticity is off); the
// plasticity uses the exact integral of r - b over the sub-step, the exact
// gamma decay, and kappa at the sub-step's midpoint. See docs/integrators.md.
namespace {

// A batch of modules through every planned sub-step.
template <class T>
struct ModuleRun {
    const T *sw, *sv, *sd, *xx;
    T *r, *c, *z;
    const PlannedSubstep<T>* plan;
    int64_t substeps;
    ReducedShared shared;
    const EiRateParams* ei;
};

// Modules per batch. A short module's sub-step is a chain of dependent
// operations (its in-order sums, the mean's propagator in double, the
// neurons' update): one module at a time, through all its sub-steps, left
// the core waiting on that chain (the 64-channel layers of ResNet-20 have
// modules of 4-9 neurons). A batch takes each sub-step module by module, so
// the chains of its modules are independent and overlap in the core. Each
// module's operations and their order are those of one module alone: the
// same bits.
constexpr int64_t kModuleBatch = 8;

// Modules [off[0], off[1]), ... [off[nm - 1], off[nm]) (nm <= kModuleBatch);
// q[b] is module b's r_inh.
template <class T>
inline __attribute__((always_inline)) void modules_body(const ModuleRun<T>& a, const int64_t* off, int64_t nm,
                                                        T* q_io) {
    const T *sw = a.sw, *sv = a.sv, *sd = a.sd, *xx = a.xx;
    T *r = a.r, *c = a.c, *z = a.z;
    // The rates' constants by value: through a.ei they might alias the stores
    // to r, c, z (fp64), so the propagator's constant quotients were reloaded
    // and divided again for every module and sub-step.
    const EiRateParams ei = *a.ei;
    T q[kModuleBatch], cnt[kModuleBatch];
    for (int64_t b = 0; b < nm; ++b) {
        q[b] = q_io[b];
        cnt[b] = static_cast<T>(off[b + 1] - off[b]);
    }
    ReducedShared sh = a.shared;
    for (int64_t j = 0; j < a.substeps; ++j) {
        const PlannedSubstep<T>& ps = a.plan[j];
        sh.G = ps.G;
        for (int64_t b = 0; b < nm; ++b) {
            const int64_t i0 = off[b], i1 = off[b + 1];
            T zsum = T(0), rsum = T(0);
            for (int64_t i = i0; i < i1; ++i) {
                z[i] = reduced_drive<T>(sh, sw[i], sv[i], sd[i], xx[i], c[i]);
                zsum += z[i];
                rsum += r[i];
            }
            const T zbar = zsum / cnt[b], mean_r = rsum / cnt[b];
            const MeanInhStep st = ei_mean_inh_apply(ei, ps.prop, static_cast<double>(mean_r),
                                                     static_cast<double>(q[b]), static_cast<double>(zbar));
            ExpSubstep<T> sm = ps.sub;
            sm.m = static_cast<T>(st.m);
            sm.integral_m = static_cast<T>(st.integral_m);
            for (int64_t i = i0; i < i1; ++i) exponential_neuron<T>(sm, z[i], zbar, mean_r, r[i], c[i]);
            q[b] = static_cast<T>(st.q);
        }
    }
    for (int64_t b = 0; b < nm; ++b) q_io[b] = q[b];
}

// The module loop, cloned for wider vectors (core/vector_clones.hpp): this
// loop is the sub-steps' cost.
DS_VECTOR_CLONES void run_modules(const ModuleRun<double>& a, const int64_t* off, int64_t nm, double* q) {
    modules_body(a, off, nm, q);
}
DS_VECTOR_CLONES void run_modules(const ModuleRun<float>& a, const int64_t* off, int64_t nm, float* q) {
    modules_body(a, off, nm, q);
}

}  // namespace

template <class T>
void PresentationIntegrator<T>::plan_exponential(double t_end) {
    if (xx_max_ < 0.0) {  // max |x_i|^2: x is fixed through the presentation, so once
        double xx_max = 0.0;  // a maximum: the same for any thread count
        const int64_t nx = static_cast<int64_t>(xx_.size());
#pragma omp parallel for reduction(max : xx_max) if (!omp_in_parallel() && nx >= (int64_t(1) << 11))
        for (int64_t i = 0; i < nx; ++i) xx_max = std::max(xx_max, static_cast<double>(xx_[i]));
        xx_max_ = xx_max;
    }
    // The plan: the sub-steps' lengths and shared values (models/exp_substep.hpp).
    planned_.clear();
    const ExpSubstepRule rule = p_.exp_rule();
    double t = t_local_, G = shared_.G;
    while (exp_substep_due(t, t_end, p_.dt)) {
        const ExpSubstepFill<T> f = exp_substep_at<T>(rule, s0_, t, t_end, xx_max_);
        PlannedSubstep<T> ps{};
        ps.sub = f.sub;
        ps.prop = ei_mean_inh_propagator(p_.ei, f.h);
        ps.G = G;
        planned_.push_back(ps);
        G = continuous_G(G, f.decay);
        t += f.h;
    }
    plan_t_ = t;
    plan_G_ = G;
}

// Every thread of the enclosing team runs this (orphaned worksharing): it
// reads the integrator's members and writes only the modules' neurons and
// r_inh, each module on the thread the loop gives it.
template <class T>
void PresentationIntegrator<T>::run_planned(const std::function<void()>& alongside) {
    const int64_t S = static_cast<int64_t>(planned_.size());
    LayerBlock<T>& b = *b_;
    const auto& off = b.module_offsets;
    // Modules are independent within a sub-step: each sums its own neurons
    // in order, so the results do not depend on the number of threads.
    const int64_t M = static_cast<int64_t>(off.size()) - 1;
    const T *sw = sw_.data(), *sv = sv_.data(), *sd = sd_.data(), *xx = xx_.data();
    T *r = b.r.data(), *c = c_.data(), *z = rnew_.data();
    const PlannedSubstep<T>* plan = planned_.data();
    const ModuleRun<T> run{sw, sv, sd, xx, r, c, z, plan, S, shared_, &p_.ei};
    const int64_t* mo = off.data();
    T* q = b.r_inh.data();
    const int64_t batches = (M + kModuleBatch - 1) / kModuleBatch;
    auto batch = [&](int64_t bi) {
        const int64_t m0 = bi * kModuleBatch;
        run_modules(run, mo + m0, std::min(kModuleBatch, M - m0), q + m0);
    };
    if (!alongside) {
#pragma omp for schedule(static)
        for (int64_t bi = 0; bi < batches; ++bi) batch(bi);
    } else {
        // One thread runs `alongside` while the others start on the batches,
        // handed out one by one so that it takes its share afterwards.
        // Each module's result does not depend on the thread that runs it.
#pragma omp single nowait
        alongside();
#pragma omp for schedule(dynamic, 1)
        for (int64_t bi = 0; bi < batches; ++bi) batch(bi);
    }
}

template <class T>
void PresentationIntegrator<T>::exponential_to(double t_end, const std::function<void()>& alongside) {
    plan_exponential(t_end);
    const int64_t S = static_cast<int64_t>(planned_.size());
    const int64_t M = static_cast<int64_t>(b_->module_offsets.size()) - 1;
    const bool par = S > 0 && !omp_in_parallel() && b_->n >= (int64_t(1) << 11) && M > 1;
#pragma omp parallel if (par)
    run_planned(alongside);
    shared_.G = plan_G_;
    t_local_ = plan_t_;
    substeps_ += S;
}

template <class T>
bool PresentationIntegrator<T>::plan_to(int64_t j) {
    if (!(p_.continuous && p_.integrator == Integrator::exponential && p_.model != ModelKind::ideal)) return false;
    plan_exponential(static_cast<double>(j) * p_.dt);
    plan_j_ = j;
    return true;
}

template <class T>
void PresentationIntegrator<T>::end_planned() {  // as exponential_to's end, then advance_to's
    shared_.G = plan_G_;
    substeps_ += static_cast<int64_t>(planned_.size());
    j_ = plan_j_;
    t_local_ = static_cast<double>(plan_j_) * p_.dt;
}

// The class itself is instantiated in presentation.cpp; these members here.
#define DS_CONTINUOUS_MEMBERS(T)                                                              \
    template void PresentationIntegrator<T>::pack_state(std::vector<T>&) const;              \
    template void PresentationIntegrator<T>::unpack_state(const std::vector<T>&);            \
    template void PresentationIntegrator<T>::continuous_rhs(const T*, T*, double) const;     \
    template void PresentationIntegrator<T>::continuous_fixed_step(double);                  \
    template void PresentationIntegrator<T>::continuous_dopri5(double);                      \
    template void PresentationIntegrator<T>::exponential_to(double, const std::function<void()>&);     \
    template void PresentationIntegrator<T>::plan_exponential(double);                                 \
    template void PresentationIntegrator<T>::run_planned(const std::function<void()>&);                \
    template bool PresentationIntegrator<T>::plan_to(int64_t);                                         \
    template void PresentationIntegrator<T>::end_planned();
DS_CONTINUOUS_MEMBERS(double)
DS_CONTINUOUS_MEMBERS(float)
#undef DS_CONTINUOUS_MEMBERS

}  // namespace dynshare
