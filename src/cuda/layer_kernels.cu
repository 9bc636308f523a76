// SPDX-License-Identifier: BSD-3-Clause
// Single-layer runs on the GPU: one thread block per run, one thread per
// neuron. The same algorithm as the CPU integrators (src/core/presentation.cpp
// and presentation_continuous.cpp), in the same reduced coordinates, calling
// the same models/ functions for every per-neuron formula (rates, RK4 stages,
// exponential propagator, plasticity, materialisation, Eq. 4, the SNR_w
// terms, the schedules); only the loops and the block reductions are the
// device's own. The
// module mean is a block reduction (warp shuffles, then the warps' partial
// sums in a fixed order), so sums differ from the CPU's four-lane sums by
// rounding only. Per-run scalars (the shared coefficients A, B, F, G, the
// learning-rate schedule, the (mean, r_inh) propagator) are fp64 whatever T
// is: they cost O(1) per step per run. Inputs are drawn here with the same
// Philox functions as the CPU (include/dynshare/philox.hpp).
//
// Built twice (src/cuda/cuda_compat.hpp): by nvcc for a GPU, and as host C++
// with src/cuda/emulation/ (one std::thread per CUDA thread) for the
// emulated tests; only the launch and the declaration of the dynamic shared
// memory are spelled through the macros of cuda_compat.hpp.
#include "cuda/cuda_compat.hpp"

#include <cmath>
#include <cstdint>

#include "cuda/block_reduce.cuh"
#include "cuda/kernels.hpp"
#include "cuda/run_rules.cuh"
#include "dynshare/philox.hpp"
#include "models/anti_hebbian.hpp"
#include "models/exp_substep.hpp"
#include "models/lane_sums.hpp"
#include "models/ei_rate.hpp"
#include "models/ideal.hpp"
#include "models/lr_schedule.hpp"
#include "models/snr_sums.hpp"

namespace dynshare {
namespace cuda {

namespace {

constexpr int kRedSlots = kBlockReduceSlots;
using Reducer = BlockReducer;

// The per-presentation state of one run held by one thread (its neuron).
template <class T>
struct Neuron {
    T r = 0, c = 0, e = 0;       // rate, reduced coordinates
    T sw = 0, sv = 0, sd = 0, xx = 0;
};

template <class T, int METHOD>
__global__ void __launch_bounds__(1024) chunk_kernel(BatchShape shape, BatchState<T> st, int64_t p_begin,
                                                     int64_t p_end) {
    const int b = blockIdx.x;
    if (!st.active[b]) return;
    DS_EXTERN_SHARED(double, smem);
    double* red_buf = smem;               // kRedSlots
    double* xs = smem + kRedSlots;        // K: the shared input x of the presentation
    T* csh = reinterpret_cast<T*>(xs + shape.k);  // n: c_i for the records
    Reducer red(red_buf);

    const int n = shape.n, K = shape.k;
    const int i = threadIdx.x;
    const bool act = i < n;
    const RunScalars P = st.params[b];
    const RngKey key{P.key0, P.key1};
    const LrSchedule sched = schedule_of(P);
    const ExpSubstepRule exp_rule = exp_rule_of(P);
    const size_t wbase = static_cast<size_t>(b) * K * n;
    T* w = st.w + wbase;
    T* w0 = st.w0 + wbase;
    T* v = st.v + wbase;
    T* xrow = shape.noisy ? st.xbuf + wbase : nullptr;
    const int64_t S = shape.steps, R = shape.record_every;
    const T tau = static_cast<T>(P.tau), alpha = static_cast<T>(P.alpha), bias = static_cast<T>(P.bias);
    const T mu = static_cast<T>(P.mu), gamma = static_cast<T>(P.gamma);
    const double invn = 1.0 / static_cast<double>(n);
    const T tn = static_cast<T>(n);  // module size, for the means

    Neuron<T> s;
    s.r = act ? st.r[static_cast<size_t>(b) * n + i] : T(0);
    T q = st.r_inh[b];
    int64_t step = st.step[b];
    int64_t substeps = st.substeps[b];
    int rec = 0;
    int64_t p = p_begin > st.next[b] ? p_begin : st.next[b];
    int diverged = 0;          // 1: the state became non-finite; 2: a record's sums overflowed
    int64_t diverged_at = -1;  // the step of a record that overflowed

    auto X = [&](int j) -> T { return shape.noisy ? xrow[static_cast<size_t>(j) * n + i] : static_cast<T>(xs[j]); };
    // Four fixed lanes, as the CPU's lane_dot: the same summation order
    // (models/lane_sums.hpp), over this neuron's column of a K x n array.
    auto dot_col = [&](const T* a) -> T {
        if (shape.noisy) return lane_dot_strided<T>(a + i, n, xrow + i, n, K);
        return lane_dot_strided<T>(a + i, n, xs, 1, K);
    };
    auto write_record = [&](int64_t at, double value) {
        if (threadIdx.x == 0 && rec < st.rec_cap) {
            st.rec_step[static_cast<size_t>(b) * st.rec_cap + rec] = at;
            st.rec_value[static_cast<size_t>(b) * st.rec_cap + rec] = value;
        }
        ++rec;
    };
    // -log SNR_w (Eq. 6, snr_impl's shifted one-pass sums in fp64) of the
    // weights w_ij = w^s + F v^s + G (w^s - w0) + c_i x_j; materialized=true
    // reads w as it is. One warp per input j, lanes over neurons.
    // NaN when the sums overflowed (or met a non-finite weight): the state has
    // diverged and the record is no result (src/core/snr.cpp's LayerSnr::finite).
    auto neg_log_snr = [&](const ReducedShared& sh, bool materialized) -> double {
        if (!materialized) {
            if (act) csh[i] = s.c;
            __syncthreads();
        }
        const T F = static_cast<T>(sh.F), G = static_cast<T>(sh.G);
        double part = 0.0, bad = 0.0, over = 0.0;
        for (int j = red.warp; j < K; j += red.nwarps) {
            auto wnow = [&](int ii) -> double {
                const size_t idx = static_cast<size_t>(j) * n + ii;
                if (materialized) return static_cast<double>(w[idx]);
                const T xj = shape.noisy ? xrow[idx] : static_cast<T>(xs[j]);
                return static_cast<double>(reduced_weight<T>(w[idx], v[idx], w0[idx], F, G, csh[ii], xj));
            };
            const double ref = wnow(0);
            double s1 = 0.0, s2 = 0.0;
            for (int ii = red.lane; ii < n; ii += 32) snr_accumulate(wnow(ii), ref, s1, s2);
            s1 = warp_sum(s1);
            s2 = warp_sum(s2);
            if (red.lane == 0) {
                if (!isfinite(s1 + s2 + ref * 0.0)) over += 1.0;
                const double t = snr_ratio(snr_moments(s1, s2, ref, invn));
                if (t == INFINITY) bad += 1.0;
                else part += t;
            }
        }
        red.sum2(part, bad);
        over = red.sum(over);
        if (over > 0.0) return NAN;
        if (bad > 0.0) return -INFINITY;  // -log(+inf), as snr_w returns +inf
        SnrLayerSum layer;  // one module
        layer.add_module(part, 0.0, static_cast<double>(K));
        return layer.neg_log_snr(1.0);
    };

    for (; p < p_end; ++p) {
        // --- inputs of presentation p (SingleLayerInputs::fill) -------------
        const int pairs = (K + 1) / 2;
        for (int t = threadIdx.x; t < pairs; t += blockDim.x) {
            double n0, n1;
            normal_pair(key, static_cast<uint32_t>(t), static_cast<uint32_t>(Stream::input),
                        static_cast<uint32_t>(p), static_cast<uint32_t>(p >> 32), n0, n1);
            xs[2 * t] = n0;
            if (2 * t + 1 < K) xs[2 * t + 1] = n1;
        }
        __syncthreads();
        if (shape.noisy && act) {
            for (int t = 0; t < pairs; ++t) {
                double n0, n1;
                normal_pair(key, static_cast<uint32_t>(t), static_cast<uint32_t>(Stream::input_noise),
                            static_cast<uint32_t>(p), static_cast<uint32_t>(i), n0, n1);
                xrow[static_cast<size_t>(2 * t) * n + i] = static_cast<T>(xs[2 * t] + P.noise_std * n0);
                if (2 * t + 1 < K) xrow[static_cast<size_t>(2 * t + 1) * n + i] = static_cast<T>(xs[2 * t + 1] + P.noise_std * n1);
            }
        }
        __syncthreads();

        if (METHOD == method_ideal) {
            // --- Eq. 4, one iteration (PresentationIntegrator::ideal_step) ---
            const double eta = P.plastic ? sched(step) : 0.0;
            if (eta != 0.0) {
                const T z = act ? dot_col(w) : T(0);
                const T zbar = red.sum(z) / tn;
                if (act) {
                    const T teta = static_cast<T>(eta);
                    for (int j = 0; j < K; ++j) {
                        const size_t idx = static_cast<size_t>(j) * n + i;
                        T wj = w[idx], vj = v[idx];
                        ideal_weight_step<T>(wj, vj, w0[idx], X(j), z, zbar, mu, gamma, teta);
                        v[idx] = vj;
                        w[idx] = wj;
                    }
                }
            }
            // state_finite(): the rates (constant here) and the weights.
            T acc = act ? s.r : T(0);
            if (act)
                for (int j = 0; j < K; ++j) acc += w[static_cast<size_t>(j) * n + i];
            const T tot = red.sum(acc);
            const bool finite = isfinite(static_cast<double>(tot) + static_cast<double>(q));
            step += S;
            __syncthreads();
            if (!finite) {
                diverged = 1;
                break;
            }
            if (step % R == 0) {
                const double v = neg_log_snr(ReducedShared{}, true);
                if (isnan(v)) {
                    diverged = 2;
                    diverged_at = step;
                    break;
                }
                write_record(step, v);
            }
            continue;
        }

        // --- ei_rate: begin() ---------------------------------------------
        constexpr bool continuous = METHOD == method_exponential;
        if (act) {
            s.sw = dot_col(w);
            s.sv = continuous ? T(0) : dot_col(v);
            s.sd = s.sw - dot_col(w0);
            if (shape.noisy) s.xx = lane_dot_strided<T>(xrow + i, n, xrow + i, n, K);
        }
        if (!shape.noisy) {
            // The shared x: every thread, idle lanes (i >= n) included, since
            // xx_max below sets the exponential sub-step, and so how many
            // block reductions follow; a lane with another xx would take a
            // different number of sub-steps and miss the others' __syncthreads.
            s.xx = lane_dot_strided<T>(xs, 1, xs, 1, K);
        }
        s.c = 0;
        s.e = 0;
        ReducedShared sh;
        const int64_t s0 = step;
        int64_t jj = 0;
        double t_local = 0.0;
        double xx_max = 0.0;
        if (continuous) xx_max = shape.noisy ? red.max(act ? static_cast<double>(s.xx) : 0.0)
                                             : static_cast<double>(s.xx);  // every thread has the shared xx
        const T h_euler = static_cast<T>(P.dt / P.tau);
        const T dt = static_cast<T>(P.dt);

        auto drive = [&](const ReducedShared& c) -> T { return reduced_drive<T>(c, s.sw, s.sv, s.sd, s.xx, s.c); };
        auto euler_step = [&]() {
            const double eta = P.plastic ? sched(s0 + jj) : 0.0;
            const T mean = red.sum(act ? s.r : T(0)) / tn;
            const ReducedShared old = sh;
            const T drive0 = -alpha * q + bias;
            if (act) {
                const T z = drive(old);
                const T ri = s.r;
                s.r = euler_rate<T>(ri, z, drive0, h_euler);
                if (eta > 0.0) momentum_step_neuron<T>(mu, gamma, static_cast<T>(eta), ri - bias, s.c, s.e);
            }
            q = euler_inh<T>(q, mean, bias, h_euler);
            if (eta > 0.0) sh = momentum_step_shared(old, P.mu, P.gamma, eta);
        };
        auto rk4_step = [&]() {
            const double eta = P.plastic ? sched(s0 + jj) : 0.0;
            const T z = act ? drive(sh) : T(0);
            // models/ei_rate.hpp's stage sequence; each stage's module mean
            // is a block sum over the neurons' stage points.
            T k[4] = {}, kq[4] = {};  // set stage by stage (nvcc cannot see that a stage reads only earlier ones)
            rk4_stages<T>(dt, [&](int st, T c) {
                const T y = st == 0 ? s.r : rk4_point<T>(s.r, c, k[st - 1]);
                const T yq = st == 0 ? q : rk4_point<T>(q, c, kq[st - 1]);
                const T m = red.sum(act ? y : T(0)) / tn;
                k[st] = ei_drdt<T>(tau, alpha, bias, y, z, yq);
                kq[st] = ei_drinh_dt<T>(tau, bias, yq, m);
            });
            if (eta > 0.0) {
                momentum_step_neuron<T>(mu, gamma, static_cast<T>(eta), s.r - bias, s.c, s.e);
                sh = momentum_step_shared(sh, P.mu, P.gamma, eta);
            }
            s.r += dt * rk4_combine<T>(k[0], k[1], k[2], k[3]);
            q += dt * rk4_combine<T>(kq[0], kq[1], kq[2], kq[3]);
        };
        // One exponential sub-step (models/exp_substep.hpp: its length and
        // shared values) towards t_end; the module's means are block sums.
        auto exponential_substep = [&](double t_end) {
            const ExpSubstepFill<T> f = exp_substep_at<T>(exp_rule, s0, t_local, t_end, xx_max);
            ExpSubstep<T> sub = f.sub;
            const T z = act ? drive(sh) : T(0);
            T zsum = z, rsum = act ? s.r : T(0);
            red.sum2(zsum, rsum);
            const T zbar = zsum / tn, mean_r = rsum / tn;
            const MeanInhStep m = ei_mean_inh_exact(exp_rule.ei, static_cast<double>(mean_r), static_cast<double>(q),
                                                    static_cast<double>(zbar), f.h);
            sub.m = static_cast<T>(m.m);
            sub.integral_m = static_cast<T>(m.integral_m);
            if (act) exponential_neuron<T>(sub, z, zbar, mean_r, s.r, s.c);
            q = static_cast<T>(m.q);
            sh.G = continuous_G(sh.G, f.decay);
            t_local += f.h;
            ++substeps;
        };
        auto advance_to = [&](int64_t target) {
            if (!continuous) {
                while (jj < target) {
                    if (METHOD == method_rk4) rk4_step();
                    else euler_step();
                    ++jj;
                    ++substeps;
                }
                return;
            }
            const double t_end = static_cast<double>(target) * P.dt;
            while (exp_substep_due(t_local, t_end, P.dt)) exponential_substep(t_end);
            jj = target;
            t_local = t_end;
        };

        // Records inside the presentation, then its end (the engine's run loop):
        // a record whose sums overflow ends the run there.
        for (int64_t j = R - (step % R); j < S; j += R) {
            advance_to(j);
            const double v = neg_log_snr(sh, false);
            if (isnan(v)) {
                diverged = 2;
                diverged_at = step + j;
                break;
            }
            write_record(step + j, v);
        }
        if (diverged) break;
        advance_to(S);
        // state_finite(), then end(): materialize w (and v) at the end point.
        const T loc = act ? s.r + s.c + s.e : T(0);
        const T tot = red.sum(loc);
        const bool finite = isfinite(sh.A + sh.B + sh.F + sh.G + static_cast<double>(tot) + static_cast<double>(q));
        if (act) {
            const T A = static_cast<T>(sh.A), B = static_cast<T>(sh.B), F = static_cast<T>(sh.F),
                    G = static_cast<T>(sh.G);
            for (int j = 0; j < K; ++j) {
                const size_t idx = static_cast<size_t>(j) * n + i;
                const T xj = X(j);
                T wj = w[idx];
                if (continuous) {
                    materialize_continuous<T>(wj, w0[idx], G, s.c, xj);
                } else {
                    T vj = v[idx];
                    materialize_discrete<T>(wj, vj, w0[idx], A, B, F, G, s.c, s.e, xj);
                    v[idx] = vj;
                }
                w[idx] = wj;
            }
        }
        __syncthreads();
        step += S;
        if (!finite) {
            diverged = 1;
            break;
        }
        if (step % R == 0) {
            const double v = neg_log_snr(sh, true);
            if (isnan(v)) {
                diverged = 2;
                diverged_at = step;
                break;
            }
            write_record(step, v);
        }
    }

    if (act) st.r[static_cast<size_t>(b) * n + i] = s.r;
    if (threadIdx.x == 0) {
        st.r_inh[b] = q;
        st.step[b] = step;
        st.substeps[b] = substeps;
        st.next[b] = p;  // the diverged presentation, or p_end
        st.rec_count[b] = rec;
        if (diverged) {
            st.diverged[b] = diverged;
            st.diverged_step[b] = diverged == 2 ? diverged_at : step;
        }
    }
}

template <class T, int METHOD>
cudaError_t launch(const BatchShape& shape, const BatchState<T>& st, int runs, int64_t p_begin, int64_t p_end) {
    const int threads = ((shape.n + 31) / 32) * 32;
    const size_t shmem = sizeof(double) * (kRedSlots + shape.k) + sizeof(T) * shape.n;
    auto kernel = chunk_kernel<T, METHOD>;
    if (shmem > 48 * 1024) {
        const cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                   static_cast<int>(shmem));
        if (e != cudaSuccess) return e;
    }
    DS_LAUNCH(kernel, runs, threads, shmem)(shape, st, p_begin, p_end);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
    return cudaDeviceSynchronize();
}

// Covariance of the shared inputs: one block per run, tiles of presentations
// drawn into shared memory, threads over the K x K entries.
__global__ void covariance_kernel(const RunScalars* params, const int64_t* presentations, int k, int tile,
                                  double* cov) {
    DS_EXTERN_SHARED(double, xt);  // tile x k
    const int b = blockIdx.x;
    const RunScalars P = params[b];
    const RngKey key{P.key0, P.key1};
    const int64_t np = presentations[b];
    double* C = cov + static_cast<size_t>(b) * k * k;
    const int kk = k * k;
    for (int t = threadIdx.x; t < kk; t += blockDim.x) C[t] = 0.0;
    const int pairs = (k + 1) / 2;
    for (int64_t p0 = 0; p0 < np; p0 += tile) {
        const int rows = static_cast<int>((np - p0) < tile ? (np - p0) : tile);
        __syncthreads();
        for (int t = threadIdx.x; t < rows * pairs; t += blockDim.x) {
            const int rr = t / pairs, pr = t % pairs;
            const int64_t p = p0 + rr;
            double n0, n1;
            normal_pair(key, static_cast<uint32_t>(pr), static_cast<uint32_t>(Stream::input),
                        static_cast<uint32_t>(p), static_cast<uint32_t>(p >> 32), n0, n1);
            xt[rr * k + 2 * pr] = n0;
            if (2 * pr + 1 < k) xt[rr * k + 2 * pr + 1] = n1;
        }
        __syncthreads();
        for (int t = threadIdx.x; t < kk; t += blockDim.x) {
            const int a = t / k, c = t % k;
            double acc = C[t];
            for (int rr = 0; rr < rows; ++rr) acc += xt[rr * k + a] * xt[rr * k + c];
            C[t] = acc;
        }
    }
    __syncthreads();
    if (np > 0)
        for (int t = threadIdx.x; t < kk; t += blockDim.x) C[t] /= static_cast<double>(np);
}

}  // namespace

namespace DYNSHARE_KERNEL_NS {

template <class T>
const char* run_chunk(const BatchShape& shape, const BatchState<T>& state, int runs, int64_t p_begin,
                      int64_t p_end) {
    if (runs <= 0 || p_end <= p_begin) return nullptr;
    cudaError_t e = cudaSuccess;
    switch (shape.method) {
        case method_ideal: e = launch<T, method_ideal>(shape, state, runs, p_begin, p_end); break;
        case method_euler: e = launch<T, method_euler>(shape, state, runs, p_begin, p_end); break;
        case method_rk4: e = launch<T, method_rk4>(shape, state, runs, p_begin, p_end); break;
        case method_exponential: e = launch<T, method_exponential>(shape, state, runs, p_begin, p_end); break;
        default: return "unknown kernel method";
    }
    return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

template const char* run_chunk<float>(const BatchShape&, const BatchState<float>&, int, int64_t, int64_t);
template const char* run_chunk<double>(const BatchShape&, const BatchState<double>&, int, int64_t, int64_t);

const char* input_covariance(const RunScalars* params, const int64_t* presentations, int runs, int k, double* cov) {
    if (runs <= 0) return nullptr;
    int tile = 32;
    while (tile > 1 && static_cast<size_t>(tile) * k * sizeof(double) > 32 * 1024) tile /= 2;
    const size_t shmem = static_cast<size_t>(tile) * k * sizeof(double);
    if (shmem > 48 * 1024) {
        const cudaError_t e = cudaFuncSetAttribute(covariance_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                   static_cast<int>(shmem));
        if (e != cudaSuccess) return cudaGetErrorString(e);
    }
    DS_LAUNCH(covariance_kernel, runs, 256, shmem)(params, presentations, k, tile, cov);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace DYNSHARE_KERNEL_NS
}  // namespace cuda
}  // namespace dynshare
