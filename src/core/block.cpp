#include "core/block.hpp"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

namespace dynshare {

namespace {

// Rows per GEMM task: fixed, so the blocking (hence every sum's order) does
// not depend on the number of threads.
constexpr int64_t kChunk = 256;

struct Task {
    int64_t g, r0, r1;  // group, slots [r0, r1)
};

std::vector<Task> tasks_of(const InputGroups& gr) {
    std::vector<Task> t;
    for (int64_t g = 0; g < gr.groups(); ++g)
        for (int64_t r = gr.offsets[g]; r < gr.offsets[g + 1]; r += kChunk)
            t.push_back(Task{g, r, std::min(r + kChunk, gr.offsets[g + 1])});
    return t;
}

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ColMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using Stride = Eigen::OuterStride<>;

}  // namespace

InputGroups single_group(int64_t n) {
    InputGroups g;
    g.offsets = {0, n};
    return g;
}

template <class T>
void BlockedLayer<T>::setup(int64_t n, int64_t k, InputGroups groups, int64_t max_p, bool momentum,
                            BlockScratch<T>* scratch) {
    scratch_ = scratch;
    n_ = n;
    k_ = k;
    pmax_ = max_p;
    momentum_ = momentum;
    groups_ = std::move(groups);
    const int64_t G = groups_.groups();
    slot_group_.assign(static_cast<size_t>(n), 0);
    for (int64_t g = 0; g < G; ++g)
        std::fill(slot_group_.begin() + groups_.offsets[g], slot_group_.begin() + groups_.offsets[g + 1], g);
    X_.assign(static_cast<size_t>(G), std::vector<T>(static_cast<size_t>(k * max_p), T(0)));
    gram_.assign(static_cast<size_t>(G), std::vector<T>(static_cast<size_t>(max_p * max_p), T(0)));
    const size_t np = static_cast<size_t>(n * max_p);
    wx_.assign(np, T(0));
    w0x_.assign(np, T(0));
    cw_.assign(np, T(0));
    vx_.assign(momentum ? np : 0, T(0));
    cv_.assign(momentum ? np : 0, T(0));
}

template <class T>
void BlockedLayer<T>::start(const LayerBlock<T>& b, int64_t nb) {
    nb_ = nb;
    const int64_t n = n_, k = k_, P = pmax_;
    const bool id = groups_.identity();
    const bool par = !omp_in_parallel() && n * k * nb >= (int64_t(1) << 16);
    BlockScratch<T>& sc = *scratch_;
    if (!id) {
        // Block-start rows in slot order.
        sc.ws.resize(static_cast<size_t>(n * k));
        if (momentum_) sc.vs.resize(static_cast<size_t>(n * k));
        sc.w0s.resize(static_cast<size_t>(n * k));
        const int64_t* mem = groups_.members.data();
#pragma omp parallel for schedule(static) if (par)
        for (int64_t s = 0; s < n; ++s) {
            const int64_t i = mem[s];
            std::copy_n(&b.w[i * k], k, &sc.ws[s * k]);
            if (momentum_) std::copy_n(&b.v[i * k], k, &sc.vs[s * k]);
            std::copy_n(&b.w0[i * k], k, &sc.w0s[s * k]);
        }
    }
    const T* W = id ? b.w.data() : sc.ws.data();
    const T* V = id ? b.v.data() : sc.vs.data();
    const T* W0 = id ? b.w0.data() : sc.w0s.data();
    const std::vector<Task> tasks = tasks_of(groups_);
    const int64_t ntask = static_cast<int64_t>(tasks.size()), G = groups_.groups();
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (int64_t t = 0; t < ntask + G; ++t) {
        if (t >= ntask) {  // the group's Gram matrix
            const int64_t g = t - ntask;
            const Eigen::Map<const ColMat<T>> X(X_[g].data(), k, nb);
            Eigen::Map<ColMat<T>, 0, Stride> gram(gram_[g].data(), nb, nb, Stride(P));
            gram.noalias() = X.transpose() * X;
            continue;
        }
        const Task& tk = tasks[t];
        const int64_t rows = tk.r1 - tk.r0;
        const Eigen::Map<const ColMat<T>> X(X_[tk.g].data(), k, nb);
        auto drive = [&](const T* M, T* out) {
            const Eigen::Map<const RowMat<T>> A(M + tk.r0 * k, rows, k);
            Eigen::Map<RowMat<T>, 0, Stride> O(out + tk.r0 * P, rows, nb, Stride(P));
            O.noalias() = A * X;
        };
        drive(W, wx_.data());
        drive(W0, w0x_.data());
        if (momentum_) drive(V, vx_.data());
        for (int64_t s = tk.r0; s < tk.r1; ++s) {
            std::fill_n(&cw_[s * P], nb, T(0));
            if (momentum_) std::fill_n(&cv_[s * P], nb, T(0));
        }
    }
    aw_ = 1;
    av_ = 0;
    a0_ = 0;
    bw_ = 0;
    bv_ = 1;
    b0_ = 0;
}

template <class T>
void BlockedLayer<T>::presentation(int64_t q, PresentationIntegrator<T>& it, LayerBlock<T>& b, int64_t s0,
                                   int64_t steps, T* z) {
    const int64_t n = n_, P = pmax_;
    it.begin_dots(b, s0);
    const auto d = it.dots();
    const T aw = static_cast<T>(aw_), av = static_cast<T>(av_), a0 = static_cast<T>(a0_);
    const T bw = static_cast<T>(bw_), bv = static_cast<T>(bv_), b0 = static_cast<T>(b0_);
    const bool id = groups_.identity();
    const int64_t* mem = groups_.members.data();
    const bool par = !omp_in_parallel() && n * (q + 1) >= (int64_t(1) << 15);
#pragma omp parallel for schedule(static) if (par)
    for (int64_t s = 0; s < n; ++s) {
        const int64_t i = id ? s : mem[s];
        const T* gq = &gram_[slot_group_[s]][q * P];  // column q: <x_r, x_q>, r = 0..nb-1
        const T* cw = &cw_[s * P];
        const int64_t o = s * P + q;
        T corr_w = T(0);
        for (int64_t r = 0; r < q; ++r) corr_w += cw[r] * gq[r];
        const T sw = aw * wx_[o] + av * (momentum_ ? vx_[o] : T(0)) + a0 * w0x_[o] + corr_w;
        d.sw[i] = sw;
        d.sd[i] = sw - w0x_[o];
        d.xx[i] = gq[q];
        if (momentum_) {
            const T* cv = &cv_[s * P];
            T corr_v = T(0);
            for (int64_t r = 0; r < q; ++r) corr_v += cv[r] * gq[r];
            d.sv[i] = bw * wx_[o] + bv * vx_[o] + b0 * w0x_[o] + corr_v;
        } else {
            d.sv[i] = T(0);
        }
        if (z) z[i] = sw;
    }
    it.advance_to(steps);
    // Fold the presentation's coordinates: w' = (1 + G) w + F v - G w0 + c x_q,
    // v' = B w + A v - B w0 + e x_q (models/anti_hebbian.hpp, materialize_discrete).
    const ReducedShared sh = it.shared();
    const double opg = 1.0 + sh.G;
    const double naw = opg * aw_ + sh.F * bw_, nav = opg * av_ + sh.F * bv_, na0 = opg * a0_ + sh.F * b0_ - sh.G;
    const double nbw = sh.B * aw_ + sh.A * bw_, nbv = sh.B * av_ + sh.A * bv_, nb0 = sh.B * a0_ + sh.A * b0_ - sh.B;
    aw_ = naw;
    av_ = nav;
    a0_ = na0;
    bw_ = nbw;
    bv_ = nbv;
    b0_ = nb0;
    const T tG1 = static_cast<T>(opg), tF = static_cast<T>(sh.F), tA = static_cast<T>(sh.A),
            tB = static_cast<T>(sh.B);
    const T* c = it.c().data();
    const T* e = it.e().data();
#pragma omp parallel for schedule(static) if (par)
    for (int64_t s = 0; s < n; ++s) {
        const int64_t i = id ? s : mem[s];
        T* cw = &cw_[s * P];
        if (momentum_) {
            T* cv = &cv_[s * P];
            for (int64_t r = 0; r < q; ++r) {
                const T w = cw[r], v = cv[r];
                cw[r] = tG1 * w + tF * v;
                cv[r] = tB * w + tA * v;
            }
            cw[q] = c[i];
            cv[q] = e[i];
        } else {
            for (int64_t r = 0; r < q; ++r) cw[r] = tG1 * cw[r];
            cw[q] = c[i];
        }
    }
}

template <class T>
void BlockedLayer<T>::finish(LayerBlock<T>& b) {
    const int64_t n = n_, k = k_, P = pmax_, nb = nb_;
    const bool id = groups_.identity();
    const bool par = !omp_in_parallel() && n * k * nb >= (int64_t(1) << 16);
    const BlockScratch<T>& sc = *scratch_;
    const T* W = id ? b.w.data() : sc.ws.data();
    const T* V = id ? b.v.data() : sc.vs.data();
    const T* W0 = id ? b.w0.data() : sc.w0s.data();
    const T aw = static_cast<T>(aw_), av = static_cast<T>(av_), a0 = static_cast<T>(a0_);
    const T bw = static_cast<T>(bw_), bv = static_cast<T>(bv_), b0 = static_cast<T>(b0_);
    const std::vector<Task> tasks = tasks_of(groups_);
    const int64_t ntask = static_cast<int64_t>(tasks.size());
    const int64_t* mem = groups_.members.data();
#pragma omp parallel if (par)
    {
        RowMat<T> tw, tv;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < ntask; ++t) {
            const Task& tk = tasks[t];
            const int64_t rows = tk.r1 - tk.r0;
            const Eigen::Map<const ColMat<T>> X(X_[tk.g].data(), k, nb);
            const Eigen::Map<const RowMat<T>, 0, Stride> Cw(&cw_[tk.r0 * P], rows, nb, Stride(P));
            tw.noalias() = Cw * X.transpose();
            if (momentum_) {
                const Eigen::Map<const RowMat<T>, 0, Stride> Cv(&cv_[tk.r0 * P], rows, nb, Stride(P));
                tv.noalias() = Cv * X.transpose();
            }
            for (int64_t s = tk.r0; s < tk.r1; ++s) {
                const int64_t i = id ? s : mem[s];
                // In place for one group in block order (ws aliases wo): read before write.
                const T* ws = W + s * k;
                const T* __restrict w0 = W0 + s * k;
                const T* __restrict pw = tw.data() + (s - tk.r0) * k;
                T* wo = &b.w[i * k];
                if (momentum_) {
                    const T* vs = V + s * k;
                    const T* __restrict pv = tv.data() + (s - tk.r0) * k;
                    T* vo = &b.v[i * k];
                    for (int64_t j = 0; j < k; ++j) {
                        const T w = ws[j], v = vs[j], w0j = w0[j];
                        wo[j] = aw * w + av * v + a0 * w0j + pw[j];
                        vo[j] = bw * w + bv * v + b0 * w0j + pv[j];
                    }
                } else {
                    for (int64_t j = 0; j < k; ++j) wo[j] = aw * ws[j] + a0 * w0[j] + pw[j];
                }
            }
        }
    }
}

template <class T>
bool BlockedLayer<T>::coefficients_finite() const {
    double acc = aw_ + av_ + a0_ + bw_ + bv_ + b0_;
    return std::isfinite(acc);
}

template <class T>
double BlockedLayer<T>::flops(int64_t nb) const {
    const double n = static_cast<double>(n_), k = static_cast<double>(k_), p = static_cast<double>(nb);
    const double mats = momentum_ ? 3.0 : 2.0;  // W X, V X, W0 X
    const double ups = momentum_ ? 2.0 : 1.0;   // Cw X^T, Cv X^T
    const double gram = static_cast<double>(groups_.groups()) * 2.0 * k * p * p;
    return (mats + ups) * 2.0 * n * k * p + gram;
}

template class BlockedLayer<double>;
template class BlockedLayer<float>;

}  // namespace dynshare
