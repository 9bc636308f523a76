// SPDX-License-Identifier: BSD-3-Clause
#include "core/stack_patterns.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/first_touch.hpp"
#include "models/lane_sums.hpp"
#include "models/stack_pattern.hpp"

namespace dynshare {

template <class T>
StackPatterns<T>::StackPatterns(const SimConfig& cfg, const RunPlan& plan)
    : plan_(plan), key_(make_key(cfg.run.seed, cfg.run.stream)), noise_(cfg.input.noise_std) {
    const size_t L = plan.layers.size();
    x_.resize(L);
    pos_.resize(L);
    rows_.resize(L);
    pin_.resize(L);
    z_.resize(L);
    for (size_t l = 0; l < L; ++l) {
        const LcGeometry& g = plan.layers[l].g;
        if (noise_ > 0.0) assign_populated(x_[l], static_cast<size_t>(g.neurons() * g.fan_in()), T(0));
        assign_populated(pos_[l], static_cast<size_t>(int64_t(g.h_out()) * g.w_out() * g.fan_in()), T(0));
        rows_[l].assign(static_cast<size_t>(g.neurons()), nullptr);
        pin_[l].assign(static_cast<size_t>(g.c_in) * g.h_in * g.w_in, T(0));
        z_[l].assign(static_cast<size_t>(g.neurons()), T(0));
    }
    const LcGeometry& g0 = plan.layers[0].g;
    patch_.assign(static_cast<size_t>(g0.c_in) * plan.pattern_period * plan.pattern_period, 0.0);
}

template <class T>
InputView<T> StackPatterns<T>::inputs(int l) const {
    const int64_t fan = plan_.layers[l].g.fan_in();
    if (noise_ > 0.0) return InputView<T>{x_[l].data(), fan, nullptr};
    return InputView<T>{nullptr, fan, rows_[l].data()};
}

template <class T>
void StackPatterns<T>::begin_presentation(int64_t p) {
    const LcGeometry& g = plan_.layers[0].g;
    const int P = plan_.pattern_period;
    fill_normals(key_, Stream::input, static_cast<uint32_t>(p), static_cast<uint32_t>(p >> 32), patch_.data(),
                 static_cast<int>(patch_.size()));
    std::vector<T>& in = pin_[0];
    for (int c = 0; c < g.c_in; ++c)
        for (int y = 0; y < g.h_in; ++y)
            for (int x = 0; x < g.w_in; ++x)
                in[(static_cast<size_t>(c) * g.h_in + y) * g.w_in + x] =
                    static_cast<T>(patch_[(static_cast<size_t>(c) * P + y % P) * P + x % P]);
}

template <class T>
void StackPatterns<T>::layer_inputs(int64_t p, int l, const LayerBlock<T>& b) {
    const LayerPlan& pl = plan_.layers[l];
    const LcGeometry& g = pl.g;
    const int64_t n = b.n, fan = g.fan_in(), hw = int64_t(g.h_out()) * g.w_out();
    const int k = g.k, wo = g.w_out();
    T* X = noise_ > 0.0 ? x_[l].data() : nullptr;
    const T** rows = rows_[l].data();
    T* z = z_[l].data();
    const double noise = noise_;
    const T tnoise = static_cast<T>(noise_);
    const RngKey key = key_;
    const bool periodic = plan_.periodic_border;
    T* pos = pos_[l].data();  // the integrator reads it during the presentation
    // Every output channel at (y, x) sees the same receptive field: gather
    // it once per position (gather_field, also the block path's), then copy
    // it to each neuron's row.
    // Parallel over neurons only when called outside a parallel region
    // (inside the run loop's task chain the other threads integrate).
    const bool par = n * fan >= (int64_t(1) << 18) && !omp_in_parallel();
#pragma omp parallel if (par)
    {
        std::vector<double> normals(noise > 0.0 ? static_cast<size_t>(fan) : 0);
#pragma omp for schedule(static)
        for (int64_t q = 0; q < hw; ++q) gather_field(l, q, pos + q * fan);
#pragma omp for schedule(static)
        for (int64_t s = 0; s < n; ++s) {
            const int64_t nidx = pl.order[s];
            const T* src = pos + (nidx % hw) * fan;
            if (noise > 0.0) {
                T* row = X + s * fan;
                // Noise on the existing inputs only: zero padding stays 0 (periodic: every input is real).
                const int64_t rem = nidx % hw;
                const int y0 = static_cast<int>(rem / wo) * g.stride - g.padding;
                const int x0 = static_cast<int>(rem % wo) * g.stride - g.padding;
                fill_normals(key, Stream::input_noise, static_cast<uint32_t>(p),
                             static_cast<uint32_t>((int64_t(l) << 24) | nidx), normals.data(), static_cast<int>(fan));
                for (int ci = 0; ci < g.c_in; ++ci)
                    for (int ky = 0; ky < k; ++ky)
                        for (int kx = 0; kx < k; ++kx) {
                            const int64_t j = (int64_t(ci) * k + ky) * k + kx;
                            const int iy = y0 + ky, ix = x0 + kx;
                            const bool inside = periodic || (iy >= 0 && iy < g.h_in && ix >= 0 && ix < g.w_in);
                            row[j] = inside ? src[j] + tnoise * static_cast<T>(normals[j]) : T(0);
                        }
                z[s] = lane_dot(&b.w[s * fan], static_cast<const T*>(row), fan);
            } else {
                rows[s] = src;
                z[s] = lane_dot(&b.w[s * fan], src, fan);
            }
        }
    }
    if (l + 1 < plan_.num_layers()) propagate(l, p, z_[l].data());
}

// phi(module mean of z), laid out as (c_out, h_out, w_out), optionally at unit RMS.
// With stack.drive > 0 each module also gets independent spontaneous activity
// before phi: phi(mean_m / rms + drive * xi_m), xi_m ~ N(0,1) per (presentation,
// layer, module). Without it, a deep layer's inputs are a function of the first
// layer's patch only, so their covariance can be near-singular and Eq. 5 keeps
// part of the initial spread (docs/guide/simulate.md, "Stacked layers").
template <class T>
void StackPatterns<T>::propagate(int l, int64_t presentation, const T* z) {
    const LayerPlan& pl = plan_.layers[l];
    const LcGeometry& g = pl.g;
    const auto& off = pl.module_offsets;
    means_.assign(static_cast<size_t>(pl.modules()), T(0));
    // Each module's sum runs over its members in order. That is one chain of
    // dependent adds per module, so four modules of one size run side by side
    // (independent chains, the same order within each: the same bits).
    const int64_t M = pl.modules();
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) {
        const int64_t len = off[m + 1] - off[m];
        if (off[m + 2] - off[m + 1] != len || off[m + 3] - off[m + 2] != len || off[m + 4] - off[m + 3] != len) break;
        const T* z0 = z + off[m];
        const T* z1 = z + off[m + 1];
        const T* z2 = z + off[m + 2];
        const T* z3 = z + off[m + 3];
        T a0 = T(0), a1 = T(0), a2 = T(0), a3 = T(0);
        for (int64_t s = 0; s < len; ++s) {
            a0 += z0[s];
            a1 += z1[s];
            a2 += z2[s];
            a3 += z3[s];
        }
        const T cnt = static_cast<T>(len);
        means_[m] = a0 / cnt;
        means_[m + 1] = a1 / cnt;
        means_[m + 2] = a2 / cnt;
        means_[m + 3] = a3 / cnt;
    }
    for (; m < M; ++m) {
        T acc = T(0);
        for (int64_t s = off[m]; s < off[m + 1]; ++s) acc += z[s];
        means_[m] = acc / static_cast<T>(off[m + 1] - off[m]);
    }
    if (plan_.drive > 0.0) add_drive(l, presentation);
    for (T& v : means_)
        if (pl.phi == Nonlinearity::relu) v = std::max(T(0), v);
    std::vector<T>& out = pin_[l + 1];
    const int p = pl.period, ho = g.h_out(), wo = g.w_out();
    T ss = T(0);
    for (int c = 0; c < g.c_out; ++c)
        for (int y = 0; y < ho; ++y)
            for (int x = 0; x < wo; ++x) {
                const int64_t m = pl.module_of_cell[(static_cast<size_t>(c) * p + y % p) * p + x % p];
                const T v = means_[m];
                out[(static_cast<size_t>(c) * ho + y) * wo + x] = v;
                ss += v * v;
            }
    if (plan_.normalize) {
        const T rms = std::sqrt(ss / static_cast<T>(out.size()));
        if (rms > T(0) && std::isfinite(rms)) {
            const T inv = T(1) / rms;
            for (T& v : out) v *= inv;
        }
    }
}

template <class T>
void StackPatterns<T>::add_drive(int l, int64_t p) {
    T ss = T(0);
    for (T v : means_) ss += v * v;
    const T rms = std::sqrt(ss / static_cast<T>(means_.size()));
    const T scale = rms > T(0) && std::isfinite(rms) ? T(1) / rms : T(1);
    drive_.resize(means_.size());
    fill_normals(key_, Stream::module_drive, static_cast<uint32_t>(p), static_cast<uint32_t>(l), drive_.data(),
                 static_cast<int>(drive_.size()));
    const T drive = static_cast<T>(plan_.drive);
    for (size_t m = 0; m < means_.size(); ++m) means_[m] = means_[m] * scale + drive * static_cast<T>(drive_[m]);
}

template <class T>
void StackPatterns<T>::gather_field(int l, int64_t q, T* row) const {
    const LayerPlan& pl = plan_.layers[l];
    const LcGeometry& g = pl.g;
    const int k = g.k, wo = g.w_out();
    const bool periodic = plan_.periodic_border;
    const int P = pl.in_period;
    // Into [0, n) by whole periods: stack_wrap, the kernels' own (models/stack_pattern.hpp).
    auto wrap = [P](int i, int n) { return stack_wrap(i, n, P); };
    const T* in = pin_[l].data();
    const int y0 = static_cast<int>(q / wo) * g.stride - g.padding;
    const int x0 = static_cast<int>(q % wo) * g.stride - g.padding;
    for (int ci = 0; ci < g.c_in; ++ci)
        for (int ky = 0; ky < k; ++ky) {
            int iy = y0 + ky;
            T* dst = row + (int64_t(ci) * k + ky) * k;
            if (iy < 0 || iy >= g.h_in) {
                if (!periodic) {
                    std::fill_n(dst, k, T(0));
                    continue;
                }
                iy = wrap(iy, g.h_in);
            }
            const T* src = in + (static_cast<int64_t>(ci) * g.h_in + iy) * g.w_in;
            for (int kx = 0; kx < k; ++kx) {
                const int ix = x0 + kx;
                const bool out = ix < 0 || ix >= g.w_in;
                dst[kx] = !out ? src[ix] : periodic ? src[wrap(ix, g.w_in)] : T(0);
            }
        }
}

namespace {

// The taps of output position o along one axis of n inputs, modulo layer l's
// input period (-1: zero padding). Positions with the same key along both
// axes see the same input row in every presentation: one block group.
std::vector<int> tap_key(const RunPlan& plan, int l, int o, int n) {
    const LayerPlan& pl = plan.layers[l];
    const LcGeometry& g = pl.g;
    const int P = pl.in_period;
    std::vector<int> key(static_cast<size_t>(g.k));
    for (int t = 0; t < g.k; ++t) {
        const int i = o * g.stride - g.padding + t;
        key[t] = (i < 0 || i >= n) && !plan.periodic_border ? -1 : ((i % P) + P) % P;
    }
    return key;
}

}  // namespace

int64_t stack_block_group_count(const RunPlan& plan, int l) {
    const LcGeometry& g = plan.layers[l].g;
    const int P = plan.layers[l].in_period;
    // Distinct keys of one axis. Positions whose taps all fall inside the
    // input (or every position, periodic) have keys that repeat with period
    // P in o, so P of them suffice: the count stays cheap for any size.
    auto distinct = [&](int outs, int n) {
        std::set<std::vector<int>> keys;
        int inside = 0;
        for (int o = 0; o < outs; ++o) {
            const int64_t first = int64_t(o) * g.stride - g.padding, last = first + g.k - 1;
            const bool interior = plan.periodic_border || (first >= 0 && last < n);
            if (interior && inside++ >= P) {
                if (plan.periodic_border) break;
                // Skip to the first position whose last tap leaves the input.
                const int64_t out_from = (int64_t(n) - g.k + g.padding) / g.stride + 1;
                if (out_from <= o) continue;
                o = static_cast<int>(std::min<int64_t>(out_from, outs)) - 1;
                continue;
            }
            keys.insert(tap_key(plan, l, o, n));
        }
        return static_cast<int64_t>(keys.size());
    };
    // block_groups' key is the pair (row key, column key): every pair occurs.
    return distinct(g.h_out(), g.h_in) * distinct(g.w_out(), g.w_in);
}

template <class T>
bool StackPatterns<T>::block_groups(int l, InputGroups& out) {
    if (noise_ > 0.0) return false;
    const LayerPlan& pl = plan_.layers[l];
    const LcGeometry& g = pl.g;
    const int ho = g.h_out(), wo = g.w_out();
    auto axis_key = [&](int o, int n) { return tap_key(plan_, l, o, n); };
    const int64_t hw = int64_t(ho) * wo;
    std::map<std::vector<int>, int64_t> ids;
    std::vector<int64_t> cls(static_cast<size_t>(hw));
    auto& reps = reps_;
    reps.resize(plan_.layers.size());
    reps[l].clear();
    for (int y = 0; y < ho; ++y)
        for (int x = 0; x < wo; ++x) {
            std::vector<int> key = axis_key(y, g.h_in);
            const std::vector<int> kx = axis_key(x, g.w_in);
            key.insert(key.end(), kx.begin(), kx.end());
            const auto it = ids.emplace(std::move(key), static_cast<int64_t>(ids.size())).first;
            if (it->second == static_cast<int64_t>(reps[l].size())) reps[l].push_back(int64_t(y) * wo + x);
            cls[int64_t(y) * wo + x] = it->second;
        }
    const int64_t G = static_cast<int64_t>(reps[l].size()), n = pl.neurons;
    out.offsets.assign(static_cast<size_t>(G + 1), 0);
    for (int64_t s = 0; s < n; ++s) ++out.offsets[cls[pl.order[s] % hw] + 1];
    for (int64_t c = 0; c < G; ++c) out.offsets[c + 1] += out.offsets[c];
    std::vector<int64_t> fill(out.offsets.begin(), out.offsets.end() - 1);
    out.members.assign(static_cast<size_t>(n), 0);
    for (int64_t s = 0; s < n; ++s) out.members[fill[cls[pl.order[s] % hw]]++] = s;
    auto& rows = group_rows_;
    rows.resize(plan_.layers.size());
    rows[l].assign(static_cast<size_t>(G * g.fan_in()), T(0));
    return true;
}

template <class T>
void StackPatterns<T>::block_inputs(int64_t, int l) {
    const int64_t fan = plan_.layers[l].g.fan_in();
    const std::vector<int64_t>& reps = reps_[l];
    for (size_t c = 0; c < reps.size(); ++c) gather_field(l, reps[c], &group_rows_[l][c * fan]);
}

template <class T>
const T* StackPatterns<T>::group_row(int l, int64_t g) const {
    return &group_rows_[l][static_cast<size_t>(g * plan_.layers[l].g.fan_in())];
}

template <class T>
void StackPatterns<T>::block_drives(int64_t p, int l, const T* z) {
    if (l + 1 >= plan_.num_layers()) return;
    propagate(l, p, z);
}

template class StackPatterns<double>;
template class StackPatterns<float>;

}  // namespace dynshare
