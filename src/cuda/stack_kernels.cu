// SPDX-License-Identifier: BSD-3-Clause
// Stacked plans on the device: the kernels behind DeviceApi::stack_f32/f64,
// one presentation of one layer at a time, driven by the host loop in
// src/cuda/stack_runner.cpp (which mirrors the engine's run loop,
// src/core/engine.cpp, step by step). What each kernel mirrors on the CPU:
//   stack_op_patch      StackPatterns::begin_presentation (src/core/stack_patterns.cpp)
//   stack_op_inputs     StackPatterns::layer_inputs (receptive fields, noise, z = w.x)
//                       and PresentationIntegrator::begin (the dots sw, sv, sd, xx)
//   stack_op_propagate  StackPatterns::propagate and add_drive
//   stack_op_segment    PresentationIntegrator::advance_to: euler_discrete_step or
//                       exponential_substep (src/core/presentation*.cpp), per module
//   stack_op_snr        module_snr's per-module sums (src/core/snr.cpp)
//   stack_op_end        PresentationIntegrator::state_finite and end
//   stack_op_load/store the engine's block_from_state / state_from_block for
//                       weights that stay on the device (run_resident)
// Every per-neuron formula is the models/ function the CPU calls; the random
// draws are the same Philox blocks (include/dynshare/philox.hpp). Batched
// over neurons: one thread per neuron (inputs), one block per module
// (segment, end), one block per SNR module (snr). Sums that are the CPU's
// own order here: each thread's dot products (four lanes, as lane_dot), the
// module means of z (serial per module), the SNR sums (serial over rows per
// input, serial over inputs per module). Sums in a different order (fixed,
// a block tree): the module means of the rates in every step (the CPU's
// lane_sum / serial sum), the unit-RMS sum of the propagated pattern.
// Built twice (src/cuda/cuda_compat.hpp): by nvcc and as host C++ for the
// emulator.
#include "cuda/cuda_compat.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cuda/block_reduce.cuh"
#include "cuda/kernels.hpp"
#include "cuda/run_rules.cuh"
#include "dynshare/philox.hpp"
#include "models/anti_hebbian.hpp"
#include "models/ei_rate.hpp"
#include "models/exp_substep.hpp"
#include "models/lane_sums.hpp"
#include "models/lr_schedule.hpp"
#include "models/snr_sums.hpp"
#include "models/stack_pattern.hpp"

namespace dynshare {
namespace cuda {

namespace {

constexpr int kStackRedSlots = kBlockReduceSlots;  // block_reduce.cuh
constexpr int kInputsThreads = 128;
constexpr int kPatternThreads = 128;
constexpr int kSnrThreads = 32;
constexpr int kCopyThreads = 256;  // stack_op_load / stack_op_store, grid-stride

// lane_dot (models/lane_sums.hpp) over the column s of two K x n arrays: the
// same four lanes, the same order.
template <class T>
__device__ inline T column_dot(const T* a, const T* b, int64_t n, int64_t s, int K) {
    return lane_dot_strided<T>(a + s, n, b + s, n, K);
}

__device__ inline ReducedShared load_shared(const double* p) { return ReducedShared{p[0], p[1], p[2], p[3]}; }

// ---- stack_op_patch: the first layer's tiled patch ---------------------------
template <class T>
__global__ void patch_kernel(const StackLayerDev<T>* Ls, const StackScalars* scs, int64_t p) {
    // Run blockIdx.y of the batch (StackLaunch::runs): its arrays and scalars.
    const StackLayerDev<T> L = Ls[blockIdx.y];
    const StackScalars sc = scs[blockIdx.y];
    const StackGeometry& g = L.g;
    const int P0 = sc.pattern_period;
    const int cnt = g.c_in * P0 * P0, pairs = (cnt + 1) / 2;
    const RngKey key{sc.run.key0, sc.run.key1};
    for (int t = threadIdx.x; t < pairs; t += blockDim.x) {
        double n0, n1;
        normal_pair(key, static_cast<uint32_t>(t), static_cast<uint32_t>(Stream::input), static_cast<uint32_t>(p),
                    static_cast<uint32_t>(p >> 32), n0, n1);
        L.patch[2 * t] = n0;
        if (2 * t + 1 < cnt) L.patch[2 * t + 1] = n1;
    }
    __syncthreads();
    const int64_t total = int64_t(g.c_in) * g.h_in * g.w_in;
    for (int64_t t = threadIdx.x; t < total; t += blockDim.x) {
        const int c = static_cast<int>(t / (int64_t(g.h_in) * g.w_in));
        const int y = static_cast<int>((t / g.w_in) % g.h_in), x = static_cast<int>(t % g.w_in);
        L.pin[t] = static_cast<T>(L.patch[(static_cast<int64_t>(c) * P0 + y % P0) * P0 + x % P0]);
    }
}

// ---- stack_op_inputs: x of every neuron, z = w.x and begin()'s dots -----------
template <class T>
__global__ void __launch_bounds__(kInputsThreads) inputs_kernel(const StackLayerDev<T>* Ls, const StackScalars* scs, int64_t p) {
    // Run blockIdx.y of the batch (StackLaunch::runs): its arrays and scalars.
    const StackLayerDev<T> L = Ls[blockIdx.y];
    const StackScalars sc = scs[blockIdx.y];
    DS_EXTERN_SHARED(double, smem);
    BlockReducer red(smem);
    const StackGeometry& g = L.g;
    const int64_t n = g.n;
    const int K = g.K, k = g.k;
    const int64_t s = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const bool noisy = sc.run.noise_std > 0.0;
    const T tnoise = static_cast<T>(sc.run.noise_std);
    const bool continuous = sc.method == method_exponential;
    double my_xx = 0.0;
    if (s < n) {
        const int64_t nidx = L.order[s];
        const int64_t hw = int64_t(g.h_out) * g.w_out, rem = nidx % hw;
        const int y0 = static_cast<int>(rem / g.w_out) * g.stride - g.padding;
        const int x0 = static_cast<int>(rem % g.w_out) * g.stride - g.padding;
        const RngKey key{sc.run.key0, sc.run.key1};
        double n0 = 0.0, n1 = 0.0;
        for (int ci = 0; ci < g.c_in; ++ci)
            for (int ky = 0; ky < k; ++ky)
                for (int kx = 0; kx < k; ++kx) {
                    const int j = (ci * k + ky) * k + kx;
                    const ReceptiveInput<T> in = stack_receptive_input<T>(L.pin, g.h_in, g.w_in, g.in_period, ci,
                                                                          y0 + ky, x0 + kx, sc.periodic != 0);
                    T val = in.value;
                    if (noisy) {
                        if (j % 2 == 0)
                            normal_pair(key, static_cast<uint32_t>(j / 2), static_cast<uint32_t>(Stream::input_noise),
                                        static_cast<uint32_t>(p), static_cast<uint32_t>((int64_t(g.layer) << 24) | nidx),
                                        n0, n1);
                        val = stack_noisy_input<T>(in, tnoise, j % 2 == 0 ? n0 : n1);
                    }
                    L.x[static_cast<int64_t>(j) * n + s] = val;
                }
        const T sw = column_dot(L.w, L.x, n, s, K);
        L.z[s] = sw;
        L.sw[s] = sw;
        L.sv[s] = continuous ? T(0) : column_dot(L.v, L.x, n, s, K);
        L.sd[s] = sw - column_dot(L.w0, L.x, n, s, K);
        const T xx = column_dot(L.x, L.x, n, s, K);
        L.xx[s] = xx;
        L.c[s] = T(0);
        L.e[s] = T(0);
        my_xx = static_cast<double>(xx);
    }
    const double mx = red.max(my_xx);
    if (threadIdx.x == 0) L.xx_part[blockIdx.x] = mx;
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        const ReducedShared fresh{};
        L.shared[0] = fresh.A;
        L.shared[1] = fresh.B;
        L.shared[2] = fresh.F;
        L.shared[3] = fresh.G;
    }
}

// ---- stack_op_propagate: the next layer's pattern (one block) ----------------
template <class T>
__global__ void propagate_kernel(const StackLayerDev<T>* Ls, const StackScalars* scs, int64_t p) {
    // Run blockIdx.y of the batch (StackLaunch::runs): its arrays and scalars.
    const StackLayerDev<T> L = Ls[blockIdx.y];
    const StackScalars sc = scs[blockIdx.y];
    DS_EXTERN_SHARED(double, smem);
    BlockReducer red(smem);
    double* scale_slot = smem + kStackRedSlots;
    const StackGeometry& g = L.g;
    const int M = g.modules;
    // Module means of z, each serial in block order (the CPU's order).
    for (int m = threadIdx.x; m < M; m += blockDim.x) {
        T acc = T(0);
        for (int64_t s = L.offsets[m]; s < L.offsets[m + 1]; ++s) acc += L.z[s];
        L.means[m] = acc / static_cast<T>(L.offsets[m + 1] - L.offsets[m]);
    }
    __syncthreads();
    T scale = T(1);
    const bool drive = sc.drive > 0.0;
    if (drive) {
        if (threadIdx.x == 0) {  // serial, as add_drive
            T ss = T(0);
            for (int m = 0; m < M; ++m) ss += L.means[m] * L.means[m];
            const T rms = std::sqrt(ss / static_cast<T>(M));
            scale_slot[0] = static_cast<double>(rms > T(0) && isfinite(static_cast<double>(rms)) ? T(1) / rms : T(1));
        }
        __syncthreads();
        scale = static_cast<T>(scale_slot[0]);
    }
    const RngKey key{sc.run.key0, sc.run.key1};
    const T tdrive = static_cast<T>(sc.drive);
    for (int m = threadIdx.x; m < M; m += blockDim.x) {
        T v = L.means[m];
        if (drive) {
            double n0, n1;
            normal_pair(key, static_cast<uint32_t>(m / 2), static_cast<uint32_t>(Stream::module_drive),
                        static_cast<uint32_t>(p), static_cast<uint32_t>(g.layer), n0, n1);
            v = v * scale + tdrive * static_cast<T>(m % 2 == 0 ? n0 : n1);
        }
        if (g.relu) v = v > T(0) ? v : T(0);  // std::max(T(0), v)
        L.means[m] = v;
    }
    __syncthreads();
    const int ho = g.h_out, wo = g.w_out, pp = g.period;
    const int64_t total = int64_t(g.c_out) * ho * wo;
    T ss = T(0);
    for (int64_t t = threadIdx.x; t < total; t += blockDim.x) {
        const int c = static_cast<int>(t / (int64_t(ho) * wo));
        const int y = static_cast<int>((t / wo) % ho), x = static_cast<int>(t % wo);
        const T v = L.means[L.module_of_cell[(static_cast<int64_t>(c) * pp + y % pp) * pp + x % pp]];
        L.pout[t] = v;
        ss += v * v;
    }
    if (sc.normalize) {
        ss = red.sum(ss);
        const T rms = std::sqrt(ss / static_cast<T>(total));
        if (rms > T(0) && isfinite(static_cast<double>(rms))) {
            const T inv = T(1) / rms;
            for (int64_t t = threadIdx.x; t < total; t += blockDim.x) L.pout[t] *= inv;
        }
    }
}

// ---- stack_op_segment: steps [j_from, j_to) of one module per block ----------
template <class T, int METHOD>
__global__ void __launch_bounds__(1024) segment_kernel(const StackLayerDev<T>* Ls, const StackScalars* scs, int64_t s0,
                                                       int64_t j_from, int64_t j_to, int par) {
    // Run blockIdx.y of the batch (StackLaunch::runs): its arrays and scalars.
    const StackLayerDev<T> L = Ls[blockIdx.y];
    const StackScalars sc = scs[blockIdx.y];
    DS_EXTERN_SHARED(double, smem);
    BlockReducer red(smem);
    const RunScalars& P = sc.run;
    const int m = blockIdx.x;
    const int64_t i0 = L.offsets[m], i1 = L.offsets[m + 1];
    const int64_t tid = threadIdx.x, nt = blockDim.x;
    const T cnt = static_cast<T>(i1 - i0);
    const LrSchedule sched = schedule_of(P);
    const T alpha = static_cast<T>(P.alpha), bias = static_cast<T>(P.bias);
    const T mu = static_cast<T>(P.mu), gamma = static_cast<T>(P.gamma);
    ReducedShared sh = load_shared(L.shared + 4 * par);
    T q = L.r_inh[m];
    int64_t substeps = 0;
    T* __restrict r = L.r;
    T* __restrict c = L.c;
    T* __restrict e = L.e;
    auto drive = [&](const ReducedShared& co, int64_t i) -> T {
        return reduced_drive<T>(co, L.sw[i], L.sv[i], L.sd[i], L.xx[i], c[i]);
    };

    if (METHOD == method_euler) {
        // euler_discrete_step
        const T h = static_cast<T>(P.dt / P.tau);
        for (int64_t jj = j_from; jj < j_to; ++jj) {
            const double eta = P.plastic ? sched(s0 + jj) : 0.0;
            T part = T(0);
            for (int64_t i = i0 + tid; i < i1; i += nt) part += r[i];
            const T mean = red.sum(part) / cnt;
            const ReducedShared old = sh;
            const T drive0 = -alpha * q + bias;
            const T teta = static_cast<T>(eta);
            for (int64_t i = i0 + tid; i < i1; i += nt) {
                const T z = drive(old, i);
                const T ri = r[i];
                r[i] = euler_rate<T>(ri, z, drive0, h);
                if (teta > T(0)) {
                    T ci = c[i], ei = e[i];
                    momentum_step_neuron<T>(mu, gamma, teta, ri - bias, ci, ei);
                    c[i] = ci;
                    e[i] = ei;
                }
            }
            q = euler_inh<T>(q, mean, bias, h);
            if (eta > 0.0) sh = momentum_step_shared(old, P.mu, P.gamma, eta);
            ++substeps;
        }
    } else {
        // exponential_substep, with advance_to's choice of sub-steps (the
        // layer's largest |x|^2, from the inputs kernel's partial maxima).
        double xx_max = 0.0;
        for (int b = 0; b < L.g.inputs_blocks; ++b) xx_max = fmax(xx_max, L.xx_part[b]);
        double t_local = static_cast<double>(j_from) * P.dt;
        const double t_end = static_cast<double>(j_to) * P.dt;
        const ExpSubstepRule rule = exp_rule_of(P);
        while (exp_substep_due(t_local, t_end, P.dt)) {
            const ExpSubstepFill<T> f = exp_substep_at<T>(rule, s0, t_local, t_end, xx_max);
            ExpSubstep<T> sub = f.sub;
            T zsum = T(0), rsum = T(0);
            for (int64_t i = i0 + tid; i < i1; i += nt) {
                zsum += drive(sh, i);
                rsum += r[i];
            }
            red.sum2(zsum, rsum);
            const T zbar = zsum / cnt, mean_r = rsum / cnt;
            const MeanInhStep st = ei_mean_inh_exact(rule.ei, static_cast<double>(mean_r), static_cast<double>(q),
                                                     static_cast<double>(zbar), f.h);
            sub.m = static_cast<T>(st.m);
            sub.integral_m = static_cast<T>(st.integral_m);
            for (int64_t i = i0 + tid; i < i1; i += nt) {
                const T z = drive(sh, i);
                T ri = r[i], ci = c[i];
                exponential_neuron<T>(sub, z, zbar, mean_r, ri, ci);
                r[i] = ri;
                c[i] = ci;
            }
            q = static_cast<T>(st.q);
            sh.G = continuous_G(sh.G, f.decay);
            t_local += f.h;
            ++substeps;
            // The next sub-step's sums read c and r of other threads' neurons
            // only through drive(i) of their own neurons: no barrier needed
            // beyond the one in the next reduction.
        }
    }
    if (tid == 0) L.r_inh[m] = q;
    if (m == 0 && tid == 0) {
        double* out = L.shared + 4 * (par ^ 1);
        out[0] = sh.A;
        out[1] = sh.B;
        out[2] = sh.F;
        out[3] = sh.G;
        *L.substeps += substeps;
    }
}

// ---- stack_op_snr: one SNR module per block ----------------------------------
template <class T>
__global__ void snr_kernel(const StackLayerDev<T>* Ls, int par, int materialized) {
    // Run blockIdx.y of the batch (StackLaunch::runs): its arrays and scalars.
    const StackLayerDev<T> L = Ls[blockIdx.y];
    const StackGeometry& g = L.g;
    const int sm = blockIdx.x;
    const int64_t r0 = L.snr_offsets[sm], rows = L.snr_offsets[sm + 1] - r0;
    const int64_t n = g.n;
    const int K = g.K;
    const double inv_n = 1.0 / static_cast<double>(rows);
    const ReducedShared sh = load_shared(L.shared + 4 * par);
    const T F = static_cast<T>(sh.F), G = static_cast<T>(sh.G);
    double* terms = L.snr_terms + static_cast<int64_t>(sm) * K * 4;
    auto wnow = [&](int64_t row, int j) -> double {
        const int64_t s = L.snr_rows[r0 + row];
        const int64_t idx = static_cast<int64_t>(j) * n + s;
        if (materialized) return static_cast<double>(L.w[idx]);
        return static_cast<double>(reduced_weight<T>(L.w[idx], L.v[idx], L.w0[idx], F, G, L.c[s], L.x[idx]));
    };
    for (int j = threadIdx.x; j < K; j += blockDim.x) {
        const double ref = wnow(0, j);
        double s1 = 0.0, s2 = 0.0;
        for (int64_t i = 1; i < rows; ++i) snr_accumulate(wnow(i, j), ref, s1, s2);
        const SnrTerm t = snr_term(snr_moments(s1, s2, ref, inv_n));
        terms[4 * j + 0] = t.snr;
        terms[4 * j + 1] = t.abs_over_std;
        terms[4 * j + 2] = t.finite ? 1.0 : 0.0;
        terms[4 * j + 3] = s1 + s2 + ref * 0.0;
    }
    __syncthreads();
    if (threadIdx.x == 0) {  // serial over the inputs, as module_averages
        double check = 0.0;
        for (int j = 0; j < K; ++j) check += terms[4 * j + 3];
        SnrModuleSum sum;
        for (int j = 0; j < K; ++j)
            if (!sum.add(SnrTerm{terms[4 * j + 0], terms[4 * j + 1], terms[4 * j + 2] != 0.0})) break;
        L.snr_part[3 * sm + 0] = sum.snr;
        L.snr_part[3 * sm + 1] = sum.abs_over_std;
        L.snr_part[3 * sm + 2] = isfinite(check) ? 1.0 : 0.0;
    }
}

// ---- stack_op_end: state_finite partials, then the materialisation -----------
template <class T>
__global__ void __launch_bounds__(1024) end_kernel(const StackLayerDev<T>* Ls, const StackScalars* scs, int par) {
    // Run blockIdx.y of the batch (StackLaunch::runs): its arrays and scalars.
    const StackLayerDev<T> L = Ls[blockIdx.y];
    const StackScalars sc = scs[blockIdx.y];
    DS_EXTERN_SHARED(double, smem);
    BlockReducer red(smem);
    const int m = blockIdx.x;
    const int64_t i0 = L.offsets[m], i1 = L.offsets[m + 1];
    const int64_t n = L.g.n, tid = threadIdx.x, nt = blockDim.x;
    const int K = L.g.K;
    const ReducedShared sh = load_shared(L.shared + 4 * par);
    double acc = 0.0;
    for (int64_t i = i0 + tid; i < i1; i += nt) acc += static_cast<double>(L.r[i] + L.c[i] + L.e[i]);
    acc = red.sum(acc);
    if (tid == 0) {
        acc += static_cast<double>(L.r_inh[m]);
        if (m == 0) acc += sh.A + sh.B + sh.F + sh.G;
        L.fin_part[m] = acc;
    }
    const bool continuous = sc.method == method_exponential;
    const T A = static_cast<T>(sh.A), B = static_cast<T>(sh.B), F = static_cast<T>(sh.F), G = static_cast<T>(sh.G);
    for (int64_t i = i0 + tid; i < i1; i += nt) {
        const T ci = L.c[i], ei = L.e[i];
        for (int j = 0; j < K; ++j) {
            const int64_t idx = static_cast<int64_t>(j) * n + i;
            T wj = L.w[idx];
            if (continuous) {
                materialize_continuous<T>(wj, L.w0[idx], G, ci, L.x[idx]);
            } else {
                T vj = L.v[idx];
                materialize_discrete<T>(wj, vj, L.w0[idx], A, B, F, G, ci, ei, L.x[idx]);
                L.v[idx] = vj;
            }
            L.w[idx] = wj;
        }
    }
}

// ---- stack_op_load / stack_op_store: weights that stay on the device ---------
// Output order (neuron i's inputs at ext[i * K + j]) <-> block order K x n, as
// the host does it for weights it uploads (stack_runner.cpp, init/snapshot).
// Thread t handles (j, s) = (t / n, t % n), so consecutive threads touch
// consecutive block-order addresses; grid-stride for any size.
template <class T>
__global__ void load_kernel(const StackLayerDev<T>* Ls, const float* ext) {
    // Run blockIdx.y of the batch (StackLaunch::runs): its arrays and scalars.
    const StackLayerDev<T> L = Ls[blockIdx.y];
    const int64_t n = L.g.n, K = L.g.K, total = n * K;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
        const int64_t j = t / n, s = t % n;
        const T w = static_cast<T>(ext[L.order[s] * K + j]);
        L.w[t] = w;
        L.w0[t] = w;
        L.v[t] = T(0);
    }
}

template <class T>
__global__ void store_kernel(const StackLayerDev<T>* Ls, float* ext) {
    // Run blockIdx.y of the batch (StackLaunch::runs): its arrays and scalars.
    const StackLayerDev<T> L = Ls[blockIdx.y];
    const int64_t n = L.g.n, K = L.g.K, total = n * K;
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
        const int64_t j = t / n, s = t % n;
        ext[L.order[s] * K + j] = static_cast<float>(L.w[t]);
    }
}

template <class K, class... A>
cudaError_t finish_launch(K kernel, dim3 grid, int block, size_t shmem, A... args) {
    DS_LAUNCH(kernel, grid, block, shmem)(args...);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return e;
    return cudaDeviceSynchronize();
}

// Threads of a per-module block: the largest module, rounded up to whole
// warps, at most 1024 (larger modules: threads loop over their neurons).
int module_threads(int largest) {
    const int t = ((largest + 31) / 32) * 32;
    return t < 32 ? 32 : (t > 1024 ? 1024 : t);
}

}  // namespace

namespace DYNSHARE_KERNEL_NS {

template <class T>
const char* stack_launch(const StackLaunch<T>& a) {
    const StackLayerDev<T>* L = a.layers;
    const StackScalars* sc = a.scalars;
    const StackGeometry& g = a.g;
    const unsigned R = static_cast<unsigned>(a.runs);
    if (a.runs < 1 || a.runs > 65535) return "a batch of stacked runs needs 1 to 65535 runs";
    const size_t red_bytes = sizeof(double) * (kStackRedSlots + 2);
    cudaError_t e = cudaSuccess;
    switch (a.op) {
        case stack_op_patch:
            e = finish_launch(patch_kernel<T>, dim3(1, R), kPatternThreads, 0, L, sc, a.p);
            break;
        case stack_op_inputs:
            e = finish_launch(inputs_kernel<T>, dim3(g.inputs_blocks, R), kInputsThreads, red_bytes, L, sc, a.p);
            break;
        case stack_op_propagate:
            e = finish_launch(propagate_kernel<T>, dim3(1, R), kPatternThreads, red_bytes, L, sc, a.p);
            break;
        case stack_op_segment: {
            const int threads = module_threads(g.max_module);
            const dim3 grid(g.modules, R);
            if (a.method == method_exponential)
                e = finish_launch(segment_kernel<T, method_exponential>, grid, threads, red_bytes, L, sc, a.s0,
                                  a.j_from, a.j_to, a.par);
            else if (a.method == method_euler)
                e = finish_launch(segment_kernel<T, method_euler>, grid, threads, red_bytes, L, sc, a.s0, a.j_from,
                                  a.j_to, a.par);
            else
                return "stacked plans run euler and exponential only";
            break;
        }
        case stack_op_snr:
            if (g.snr_modules <= 0) return nullptr;
            e = finish_launch(snr_kernel<T>, dim3(g.snr_modules, R), kSnrThreads, 0, L, a.par, a.materialized);
            break;
        case stack_op_end:
            e = finish_launch(end_kernel<T>, dim3(g.modules, R), module_threads(g.max_module), red_bytes, L, sc,
                              a.par);
            break;
        case stack_op_load:
        case stack_op_store: {
            if (!a.ext || a.runs != 1) return "stack_op_load/store take one run's weights";
            const int64_t total = int64_t(g.n) * g.K;
            const int blocks = static_cast<int>(std::min<int64_t>(1024, (total + kCopyThreads - 1) / kCopyThreads));
            if (a.op == stack_op_load) e = finish_launch(load_kernel<T>, blocks, kCopyThreads, 0, L, a.ext);
            else e = finish_launch(store_kernel<T>, blocks, kCopyThreads, 0, L, a.ext);
            break;
        }
        default: return "unknown stacked-plan operation";
    }
    return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

template const char* stack_launch<float>(const StackLaunch<float>&);
template const char* stack_launch<double>(const StackLaunch<double>&);

}  // namespace DYNSHARE_KERNEL_NS
}  // namespace cuda
}  // namespace dynshare
