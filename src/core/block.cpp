// SPDX-License-Identifier: BSD-3-Clause
#include "core/block.hpp"

#include "core/first_touch.hpp"
#include "core/sleep_profile.hpp"
#include "core/vector_clones.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace dynshare {

namespace {

// Rows per GEMM task: fixed, so the blocking (hence every sum's order) does
// not depend on the number of threads.
constexpr int64_t kChunk = 256;

std::vector<BlockTask> tasks_of(const InputGroups& gr) {
    std::vector<BlockTask> t;
    for (int64_t g = 0; g < gr.groups(); ++g)
        for (int64_t r = gr.offsets[g]; r < gr.offsets[g + 1]; r += kChunk)
            t.push_back(BlockTask{g, r, std::min(r + kChunk, gr.offsets[g + 1])});
    return t;
}

// Loops over all slots run in parallel above this many (per presentation).
constexpr int64_t kParallelSlots = int64_t(1) << 11;

// Each task's runs of consecutive neurons (block.hpp, SlotRun).
void runs_of(const InputGroups& gr, const std::vector<BlockTask>& tasks, std::vector<SlotRun>& runs,
             std::vector<int64_t>& off) {
    runs.clear();
    off.assign(1, 0);
    for (const BlockTask& tk : tasks) {
        for (int64_t s = tk.r0; s < tk.r1; ++s) {
            const int64_t i = gr.identity() ? s : gr.members[s];
            if (s > tk.r0 && runs.back().i0 + runs.back().len == i) ++runs.back().len;
            else runs.push_back(SlotRun{s - tk.r0, i, 1});
        }
        off.push_back(static_cast<int64_t>(runs.size()));
    }
}

// The per-run copies and fills of presentation_task stay loops (short runs:
// a library call each cost more than the copy).
#if defined(__GNUC__) && !defined(__clang__)
#define DS_NO_CALL_PATTERNS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define DS_NO_CALL_PATTERNS
#endif

// What one task of BlockedLayer::presentation reads and writes (see there).
template <class T>
struct PresentationTask {
    int64_t n, P, q, q0, nj;
    bool take_earlier, momentum;
    const T* pre;                 // pre_, all groups
    const T* corr;                // corr_, all groups
    T* ce;                        // ce_
    // The integrator's c, e as the previous presentation (q - 1) left them,
    // to be stored into ce_ first (null: nothing to store).
    const T *prev_c, *prev_e;
    T* zs;                        // z_
    const std::vector<T>* gram;   // gram_
    T s00, s01, s10, s11;         // sub_
    T aw, av, a0, bw, bv, b0;     // the block-start coefficients
    const T *wxq, *w0xq, *vxq;    // the drives of presentation q (slot order)
    typename PresentationIntegrator<T>::Dots d;
    T* z;                         // optional: w_i . x_i at the start (block order)
};

// A run's share of a task's dot products (slot order) into the integrator's
// arrays (neuron order), with its c, e zeroed and z (optional) written.
template <class T>
inline __attribute__((always_inline)) void scatter_run(int64_t len, T xx, const T* __restrict sw_s,
                                                       const T* __restrict sd_s, const T* __restrict sv_s,
                                                       T* __restrict sw, T* __restrict sd, T* __restrict xxo,
                                                       T* __restrict sv, T* __restrict c, T* __restrict e,
                                                       T* __restrict z) {
    for (int64_t j = 0; j < len; ++j) {
        sw[j] = sw_s[j];
        sd[j] = sd_s[j];
        xxo[j] = xx;
        sv[j] = sv_s[j];
        c[j] = T(0);
        e[j] = T(0);
    }
    if (z)
        for (int64_t j = 0; j < len; ++j) z[j] = sw_s[j];
}

// A run of a few values (4-9 for the 64-channel layers) copied in a loop:
// presentation_task is compiled without loop distribution into memcpy and
// memset calls, one call per array and run (perf: memmove's share grew).
template <class T>
inline __attribute__((always_inline)) void copy_run(int64_t len, const T* __restrict from, T* __restrict to) {
    for (int64_t j = 0; j < len; ++j) to[j] = from[j];
}

// One task (a chunk of slots of one group): the corrections from the block's
// earlier presentations, then the chunk's dot products, run by run.
template <class T>
inline __attribute__((always_inline)) void presentation_task_body(const PresentationTask<T>& a, const BlockTask& tk,
                                                                   const SlotRun* runs, int64_t nruns) {
    constexpr int64_t kSub = kBlockSub;
    const int64_t n = a.n, P = a.P, q = a.q, q0 = a.q0, nj = a.nj;
    const int64_t r0 = tk.r0, m = tk.r1 - tk.r0;
    const bool momentum = a.momentum;
    if (a.prev_c) {  // presentation q - 1's raw coordinates, this task's slots: read below (r = q - 1)
        T* cs = a.ce + (q - 1) * n + r0;
        for (int64_t k = 0; k < nruns; ++k) copy_run(runs[k].len, a.prev_c + runs[k].i0, cs + runs[k].j0);
        if (momentum) {
            T* es = a.ce + (P + q - 1) * n + r0;
            for (int64_t k = 0; k < nruns; ++k) copy_run(runs[k].len, a.prev_e + runs[k].i0, es + runs[k].j0);
        }
    }
    // The next chunk's streams (this thread's next task, static schedule:
    // the next 256 slots) prefetched while this one computes: each chunk's
    // reads are runs of 2 KiB per array (the drives of presentation q, the
    // c_r, e_r of the sub-block), too short for the hardware prefetchers to
    // ramp up on (perf annotate: the loads of the drives and of c_r stalled).
    if (tk.r1 < n) {
        const int64_t s1 = tk.r1, m1 = std::min(kChunk, n - s1);
        constexpr int64_t line = 64 / static_cast<int64_t>(sizeof(T));
        auto ahead = [&](const T* p) {
            for (int64_t j = 0; j < m1; j += line) __builtin_prefetch(p + s1 + j);
        };
        ahead(a.wxq);
        ahead(a.w0xq);
        if (momentum) ahead(a.vxq);
        for (int64_t r = q0; r < q; ++r) {
            ahead(a.ce + r * n);
            if (momentum) ahead(a.ce + (P + r) * n);
        }
    }
    const T* cr = a.ce;                             // c_r of slot s at r n + s
    const T* er = momentum ? cr + P * n : nullptr;  // e_r at (P + r) n + s
    const T* u = a.corr + tk.g * 4 * P;
    // Per chunk of slots (one group each): the corrections accumulate one
    // earlier presentation at a time over the chunk (each c_r read once, in
    // order), then the chunk's dot products.
    if (a.take_earlier) {  // z_ for the sub-block: every c_r, e_r (r < q0) read once
        // A register tile per vector of slots: the sub-block's kSub sums (two
        // with momentum) of one vector of slots stay in registers through
        // all r, each c_r, e_r vector loaded once for all of them. (Before:
        // one r and one j at a time over the whole chunk, every sum loaded
        // and stored for each r and j: two chunk-wide arrays of kSub rows,
        // beyond L1.) Each sum still adds r = 0, 1, ... in order, each term
        // c u00 + e u01 as before: the same bits.
        const T* up = a.pre + tk.g * 4 * P * kSub;
        constexpr int64_t L = 64 / static_cast<int64_t>(sizeof(T));
        typedef T vec __attribute__((vector_size(64)));
        int64_t i = 0;
        for (; i + L <= m; i += L) {
            vec zw[kSub], zv[kSub];
            for (int64_t j = 0; j < kSub; ++j) {
                zw[j] = vec{};
                zv[j] = vec{};
            }
            if (momentum) {
                for (int64_t r = 0; r < q0; ++r) {
                    vec c, e;
                    __builtin_memcpy(&c, cr + r * n + r0 + i, sizeof c);
                    __builtin_memcpy(&e, er + r * n + r0 + i, sizeof e);
                    const T* u00 = up + (0 * P + r) * kSub;
                    const T* u01 = up + (1 * P + r) * kSub;
                    const T* u10 = up + (2 * P + r) * kSub;
                    const T* u11 = up + (3 * P + r) * kSub;
                    for (int64_t j = 0; j < kSub; ++j) {
                        zw[j] += c * u00[j] + e * u01[j];
                        zv[j] += c * u10[j] + e * u11[j];
                    }
                }
            } else {
                for (int64_t r = 0; r < q0; ++r) {
                    vec c;
                    __builtin_memcpy(&c, cr + r * n + r0 + i, sizeof c);
                    const T* u00 = up + r * kSub;
                    for (int64_t j = 0; j < kSub; ++j) zw[j] += c * u00[j];
                }
            }
            for (int64_t j = 0; j < nj; ++j) {
                __builtin_memcpy(&a.zs[j * n + r0 + i], &zw[j], sizeof zw[j]);
                if (momentum) __builtin_memcpy(&a.zs[(kSub + j) * n + r0 + i], &zv[j], sizeof zv[j]);
            }
        }
        for (; i < m; ++i) {  // the chunk's last slots, one at a time: the same sums
            T zw[kSub] = {}, zv[kSub] = {};
            for (int64_t r = 0; r < q0; ++r) {
                const T c = cr[r * n + r0 + i];
                if (momentum) {
                    const T e = er[r * n + r0 + i];
                    for (int64_t j = 0; j < nj; ++j) {
                        zw[j] += c * up[(0 * P + r) * kSub + j] + e * up[(1 * P + r) * kSub + j];
                        zv[j] += c * up[(2 * P + r) * kSub + j] + e * up[(3 * P + r) * kSub + j];
                    }
                } else {
                    for (int64_t j = 0; j < nj; ++j) zw[j] += c * up[r * kSub + j];
                }
            }
            for (int64_t j = 0; j < nj; ++j) {
                a.zs[j * n + r0 + i] = zw[j];
                if (momentum) a.zs[(kSub + j) * n + r0 + i] = zv[j];
            }
        }
    }
    T cw[kChunk], cv[kChunk];
    if (q0 > 0) {  // the earlier sub-blocks' part, carried through this sub-block's folds
        const T* zwq = &a.zs[(q - q0) * n + r0];
        if (momentum) {
            const T* zvq = &a.zs[(kSub + q - q0) * n + r0];
            for (int64_t j = 0; j < m; ++j) {
                cw[j] = a.s00 * zwq[j] + a.s01 * zvq[j];
                cv[j] = a.s10 * zwq[j] + a.s11 * zvq[j];
            }
        } else {
            for (int64_t j = 0; j < m; ++j) cw[j] = a.s00 * zwq[j];
            std::fill_n(cv, m, T(0));
        }
    } else {
        std::fill_n(cw, m, T(0));
        std::fill_n(cv, m, T(0));
    }
    for (int64_t r = q0; r < q; ++r) {
        const T* c = cr + r * n + r0;
        if (momentum) {
            const T* e = er + r * n + r0;
            const T u00 = u[r], u01 = u[P + r], u10 = u[2 * P + r], u11 = u[3 * P + r];
            for (int64_t j = 0; j < m; ++j) {
                cw[j] += c[j] * u00 + e[j] * u01;
                cv[j] += c[j] * u10 + e[j] * u11;
            }
        } else {
            const T u00 = u[r];
            for (int64_t j = 0; j < m; ++j) cw[j] += c[j] * u00;
        }
    }
    const T xx = a.gram[tk.g][q * P + q];
    const T aw = a.aw, av = a.av, a0 = a.a0, bw = a.bw, bv = a.bv, b0 = a.b0;
    // The dot products over the chunk in slot order (contiguous: vectorised),
    // in place of the corrections cw, cv; (w - w0).x in sd. Then each run of
    // consecutive neurons takes its share: copies only. (One loop per run did
    // both, and did not vectorise: the runs of the 64-channel layers are of
    // 4-9 neurons.)
    T sd[kChunk];
    {
        const T* __restrict wx = a.wxq + r0;
        const T* __restrict w0x = a.w0xq + r0;
        T* __restrict sw = cw;
        T* __restrict sdo = sd;
        if (momentum) {
            const T* __restrict vx = a.vxq + r0;
            T* __restrict sv = cv;
            for (int64_t j = 0; j < m; ++j) {
                const T s = aw * wx[j] + av * vx[j] + a0 * w0x[j] + sw[j];
                sw[j] = s;
                sdo[j] = s - w0x[j];
                sv[j] = bw * wx[j] + bv * vx[j] + b0 * w0x[j] + sv[j];
            }
        } else {
            for (int64_t j = 0; j < m; ++j) {
                const T s = aw * wx[j] + av * T(0) + a0 * w0x[j] + sw[j];
                sw[j] = s;
                sdo[j] = s - w0x[j];
            }
            std::fill_n(cv, m, T(0));
        }
    }
    for (int64_t k = 0; k < nruns; ++k) {
        const int64_t j0 = runs[k].j0, len = runs[k].len, i0 = runs[k].i0;
        scatter_run(len, xx, cw + j0, sd + j0, cv + j0, a.d.sw + i0, a.d.sd + i0, a.d.xx + i0, a.d.sv + i0,
                    a.d.c + i0, a.d.e + i0, a.z ? a.z + i0 : nullptr);
    }
}

DS_VECTOR_CLONES DS_NO_CALL_PATTERNS void presentation_task(const PresentationTask<double>& a, const BlockTask& tk, const SlotRun* runs,
                                        int64_t nruns) {
    presentation_task_body(a, tk, runs, nruns);
}
DS_VECTOR_CLONES DS_NO_CALL_PATTERNS void presentation_task(const PresentationTask<float>& a, const BlockTask& tk, const SlotRun* runs,
                                        int64_t nruns) {
    presentation_task_body(a, tk, runs, nruns);
}

// What one task of BlockedLayer::boundary's end reads and writes (see
// there): the fold of the block's raw coordinates into Cw, Cv, and the
// materialisation w <- aw w + av v + a0 w0 + (Cw X^T), v likewise.
template <class T>
struct EndTask {
    int64_t n, P, k, nb_end;
    bool momentum;
    const int64_t* mem;           // slot -> neuron (null: identity)
    const T* ce;                  // ce_
    const T *f00, *f01, *f10, *f11;
    T *cw, *cv;                   // the chunk's folded coefficients (rows x nb_end)
    const T *tw, *tv;             // the chunk's C X^T (rows x k)
    T aw, av, a0, bw, bv, b0;     // the end's coefficients
    T *w, *v;                     // the layer's weights, in place
    const T* w0;
};

// Cw (and Cv) of a chunk of slots, row r of the block's coordinates at a time.
template <class T>
inline __attribute__((always_inline)) void fold_body(const EndTask<T>& a, const BlockTask& tk) {
    const int64_t n = a.n, nb_end = a.nb_end, rows = tk.r1 - tk.r0;
    T* __restrict cw = a.cw;
    T* __restrict cv = a.cv;
    for (int64_t r = 0; r < nb_end; ++r) {
        const T* __restrict c = a.ce + r * n + tk.r0;
        const T f00 = a.f00[r];
        if (a.momentum) {
            const T* __restrict e = a.ce + (a.P + r) * n + tk.r0;
            const T f01 = a.f01[r], f10 = a.f10[r], f11 = a.f11[r];
            for (int64_t j = 0; j < rows; ++j) {
                cw[j * nb_end + r] = f00 * c[j] + f01 * e[j];
                cv[j * nb_end + r] = f10 * c[j] + f11 * e[j];
            }
        } else {
            for (int64_t j = 0; j < rows; ++j) cw[j * nb_end + r] = f00 * c[j];
        }
    }
}

// The chunk's new weights, each entry read before it is written (in place).
template <class T>
inline __attribute__((always_inline)) void materialise_body(const EndTask<T>& a, const BlockTask& tk) {
    const int64_t k = a.k;
    const T aw = a.aw, av = a.av, a0 = a.a0, bw = a.bw, bv = a.bv, b0 = a.b0;
    for (int64_t s = tk.r0; s < tk.r1; ++s) {
        const int64_t i = a.mem ? a.mem[s] : s;
        const T* ws = a.w + i * k;
        const T* __restrict w0 = a.w0 + i * k;
        const T* __restrict pw = a.tw + (s - tk.r0) * k;
        T* wo = a.w + i * k;
        if (a.momentum) {
            const T* vs = a.v + i * k;
            const T* __restrict pv = a.tv + (s - tk.r0) * k;
            T* vo = a.v + i * k;
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

// Cloned for wider vectors (core/vector_clones.hpp; contraction is off, so
// every clone rounds as the portable one does).
DS_VECTOR_CLONES void fold_task(const EndTask<double>& a, const BlockTask& tk) { fold_body(a, tk); }
DS_VECTOR_CLONES void fold_task(const EndTask<float>& a, const BlockTask& tk) { fold_body(a, tk); }
DS_VECTOR_CLONES void materialise_task(const EndTask<double>& a, const BlockTask& tk) { materialise_body(a, tk); }
DS_VECTOR_CLONES void materialise_task(const EndTask<float>& a, const BlockTask& tk) { materialise_body(a, tk); }

}  // namespace

InputGroups single_group(int64_t n) {
    InputGroups g;
    g.offsets = {0, n};
    return g;
}

template <class T>
void BlockedLayer<T>::setup(int64_t n, int64_t k, InputGroups groups, int64_t max_p, bool momentum,
                            std::shared_ptr<BlockDrives<T>> drives) {
    n_ = n;
    k_ = k;
    pmax_ = max_p;
    momentum_ = momentum;
    groups_ = std::move(groups);
    const int64_t G = groups_.groups();
    slot_group_.assign(static_cast<size_t>(n), 0);
    for (int64_t g = 0; g < G; ++g)
        std::fill(slot_group_.begin() + groups_.offsets[g], slot_group_.begin() + groups_.offsets[g + 1], g);
    gemm_ = block_gemm<T>(block_isa());
    tasks_ = tasks_of(groups_);
    runs_of(groups_, tasks_, runs_, run_off_);
    // Rows of whole 64-byte lines: the drives' kernel then runs the block's
    // presentations in whole vectors (the padding columns of start's xr are zero).
    constexpr int64_t line = 64 / static_cast<int64_t>(sizeof(T));
    ld_ = (max_p + line - 1) / line * line;
    // The arrays below are written before they are read (inputs by input(),
    // drives by start(), c and e by each presentation): sized, not zeroed.
    size_populated(X_, static_cast<size_t>(2 * G * k * max_p));
    fill_ = 0;
    pending_ = false;
    gram_.assign(static_cast<size_t>(G), std::vector<T>(static_cast<size_t>(max_p * max_p), T(0)));
    corr_.assign(static_cast<size_t>(G * 4 * max_p), T(0));
    pre_.assign(static_cast<size_t>(G * 4 * max_p * kSub), T(0));
    fold_.assign(static_cast<size_t>(max_p), Fold{});
    const size_t np = static_cast<size_t>(n * max_p);
    dr_ = drives ? std::move(drives) : std::make_shared<BlockDrives<T>>();
    // A shared set grows to the largest layer's size (never shrinks).
    size_populated(dr_->wx, std::max(np, dr_->wx.size()));
    size_populated(dr_->w0x, std::max(np, dr_->w0x.size()));
    size_populated(dr_->vx, std::max(momentum ? np : 0, dr_->vx.size()));
    size_populated(ce_, momentum ? 2 * np : np);
    z_.assign(static_cast<size_t>((momentum ? 2 : 1) * kSub * n), T(0));
}

template <class T>
void BlockedLayer<T>::start(LayerBlock<T>& b, int64_t nb) { boundary(b, pending_, nb); }

template <class T>
void BlockedLayer<T>::finish(LayerBlock<T>& b) {
    if (pending_) boundary(b, true, 0);
}

// A block boundary: the ending block's weights materialised (end: w, v =
// the block-start weights mapped by the coefficients, plus C X^T) and/or the
// starting block's drives (nb > 0: W X, W0 X, V X and the Gram matrices of
// its inputs). Both per task of rows, so that when both run, a chunk's new
// weights are multiplied by the next inputs while they are in cache: one
// pass over W and W0 instead of two. Each part computes what it would alone:
// the same bits whether the boundary is fused or not.
template <class T>
void BlockedLayer<T>::boundary(LayerBlock<T>& b, bool end, int64_t nb) {
    const int64_t n = n_, k = k_, P = pmax_, ld = ld_;
    const int64_t nb_end = end ? nb_ : 0;  // the ending block's presentations
    const bool id = groups_.identity();
    const bool par = !omp_in_parallel() && n * k * std::max(nb, nb_end) >= (int64_t(1) << 16);
    const std::vector<BlockTask>& tasks = tasks_;
    const int64_t ntask = static_cast<int64_t>(tasks.size());
    const int64_t* mem = groups_.members.data();
    const int64_t* goff = groups_.offsets.data();
    BlockDrives<T>& drives = *dr_;
    const int old = 1 - fill_, nxt = fill_;  // the ending block's inputs, the starting block's
    // The end's coefficients.
    const T aw = static_cast<T>(aw_), av = static_cast<T>(av_), a0 = static_cast<T>(a0_);
    const T bw = static_cast<T>(bw_), bv = static_cast<T>(bv_), b0 = static_cast<T>(b0_);
    std::vector<T> f00(static_cast<size_t>(nb_end)), f01(f00), f10(f00), f11(f00);
    for (int64_t r = 0; r < nb_end; ++r) {
        f00[r] = static_cast<T>(fold_[r].f00);
        f01[r] = static_cast<T>(fold_[r].f01);
        f10[r] = static_cast<T>(fold_[r].f10);
        f11[r] = static_cast<T>(fold_[r].f11);
    }
    // The start's drives run over whole vectors of presentations: nd columns,
    // those past nb zero in xr so that their drives are zero and unused.
    const int64_t nd = std::min(ld, (nb + gemm_.lanes - 1) / gemm_.lanes * gemm_.lanes);
    // The phases' clock (core/sleep_profile.hpp): thread-seconds in GEMM
    // calls and in the rest of the tasks, summed over the team.
    using Clock = std::chrono::steady_clock;
    const auto t_wall = Clock::now();
    double gemm_s = 0.0, task_s = 0.0;
    int team = 1;
#pragma omp parallel if (par) reduction(+ : gemm_s, task_s)
    {
#pragma omp single nowait
        team = omp_get_num_threads();
        // End, per chunk: the folded coefficients Cw, Cv (rows x nb_end), then
        // C X^T (rows x k), with X^T's rows the ending block's inputs.
        std::vector<T> cw(static_cast<size_t>(kChunk * nb_end)), cv(momentum_ ? cw.size() : 0);
        std::vector<T> tw(end ? static_cast<size_t>(kChunk * k) : 0), tv(momentum_ ? tw.size() : 0);
        const T* crow[kChunk];
        const EndTask<T> et{n, P, k, nb_end, momentum_, id ? nullptr : mem, ce_.data(),
                            f00.data(), f01.data(), f10.data(), f11.data(), cw.data(), cv.data(),
                            tw.data(), tv.data(), aw, av, a0, bw, bv, b0, b.w.data(), b.v.data(), b.w0.data()};
        // Start: the chunk's rows where they are (slot s is neuron mem[s]): no
        // copy of the weights into slot order. The drives come out slot-major
        // and are stored presentation-major (q n + s), so that each
        // presentation reads one contiguous run over the slots.
        const T* arow[kChunk];
        std::vector<T> out(nb > 0 ? static_cast<size_t>(kChunk * ld) : 0);
        // The group's inputs transposed (k x ld, row-major), as the drives'
        // kernel reads them: built here, in this thread's cache, when its
        // task changes group, rather than stored for every group (a write
        // and a read of all of them, and a serial loop when one group).
        std::vector<T> xr(nb > 0 ? static_cast<size_t>(k * ld) : 0, T(0));
        int64_t xr_group = -1;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < ntask; ++t) {
            const auto t_task = Clock::now();
            const BlockTask& tk = tasks[t];
            const int64_t g = tk.g, rows = tk.r1 - tk.r0;
            if (end) {
                const T* x = inputs(old, g);
                fold_task(et, tk);
                const auto t_g = Clock::now();
                for (int64_t r = 0; r < rows; ++r) crow[r] = &cw[r * nb_end];
                gemm_.update(rows, k, nb_end, crow, x, k, tw.data(), k, false);
                if (momentum_) {
                    for (int64_t r = 0; r < rows; ++r) crow[r] = &cv[r * nb_end];
                    gemm_.update(rows, k, nb_end, crow, x, k, tv.data(), k, false);
                }
                gemm_s += seconds_since(t_g);
                materialise_task(et, tk);
            }
            if (nb > 0) {
                if (g != xr_group) {
                    const T* x = inputs(nxt, g);
                    for (int64_t j = 0; j < k; ++j) {
                        for (int64_t p = 0; p < nb; ++p) xr[j * ld + p] = x[p * k + j];
                        std::fill(xr.begin() + j * ld + nb, xr.begin() + j * ld + nd, T(0));
                    }
                    xr_group = g;
                }
                const auto t_g = Clock::now();
                if (tk.r0 == goff[g]) {  // the group's first task: its Gram matrix <x_r, x_q> (symmetric:
                                         // each entry's sum runs over the inputs in order, whichever of x_r,
                                         // x_q is the row)
                    for (int64_t q0 = 0; q0 < nb; q0 += kChunk) {  // rows q0.. of at most kChunk
                        const int64_t m = std::min(kChunk, nb - q0);
                        for (int64_t q = 0; q < m; ++q) arow[q] = inputs(nxt, g) + (q0 + q) * k;
                        gemm_.drives(m, nd, k, arow, xr.data(), ld, out.data(), ld, false);
                        for (int64_t q = 0; q < m; ++q) std::copy_n(&out[q * ld], nb, &gram_[g][(q0 + q) * P]);
                    }
                }
                auto drive = [&](const T* M, UninitVector<T>& dst) {
                    for (int64_t s = tk.r0; s < tk.r1; ++s) arow[s - tk.r0] = &M[(id ? s : mem[s]) * k];
                    gemm_.drives(rows, nd, k, arow, xr.data(), ld, out.data(), ld, false);
                    for (int64_t q = 0; q < nb; ++q)
                        for (int64_t r = 0; r < rows; ++r) dst[q * n + tk.r0 + r] = out[r * ld + q];
                };
                drive(b.w.data(), drives.wx);
                drive(b.w0.data(), drives.w0x);
                if (momentum_) drive(b.v.data(), drives.vx);
                gemm_s += seconds_since(t_g);  // (with the drives' stores, presentation-major)
            }
            task_s += seconds_since(t_task);
        }
    }
    {
        const double wall = seconds_since(t_wall), tiles = gemm_s / team, rest = (task_s - gemm_s) / team;
        profile_add(SleepPhase::gemm, tiles);
        profile_add(SleepPhase::materialise, rest);
        profile_add(SleepPhase::boundary_waits, std::max(0.0, wall - tiles - rest));
    }
    pending_ = false;
    if (nb > 0) {
        nb_ = nb;
        fill_ = old;  // the next block's inputs go where the ended block's were
        aw_ = 1;
        av_ = 0;
        a0_ = 0;
        bw_ = 0;
        bv_ = 1;
        b0_ = 0;
    }
}

template <class T>
void BlockedLayer<T>::presentation(int64_t q, PresentationIntegrator<T>& it, LayerBlock<T>& b, int64_t s0,
                                   int64_t steps, T* z, const std::function<void()>& alongside) {
    const int64_t n = n_, P = pmax_, G = groups_.groups();
    it.begin_dots(b, s0);
    const T aw = static_cast<T>(aw_), av = static_cast<T>(av_), a0 = static_cast<T>(a0_);
    const T bw = static_cast<T>(bw_), bv = static_cast<T>(bv_), b0 = static_cast<T>(b0_);
    const bool par = !omp_in_parallel() && n >= kParallelSlots;
    // Sub-blocks of kSub presentations (block.hpp): at the first presentation
    // q0 of each, the corrections from every presentation before it are
    // taken for the whole sub-block at once (z_); within it, only those of
    // the sub-block's earlier presentations are added one by one.
    const int64_t q0 = q - q % kSub, nj = std::min(kSub, nb_ - q0);
    const bool take_earlier = q == q0 && q0 > 0;
    if (q == q0) sub_ = Fold{};
    if (take_earlier)  // fold_[r] (r < q0) as of q0, times <x_r, x_{q0+j}>
        for (int64_t g = 0; g < G; ++g) {
            T* u = &pre_[g * 4 * P * kSub];
            for (int64_t r = 0; r < q0; ++r) {
                const Fold& f = fold_[r];
                for (int64_t j = 0; j < nj; ++j) {
                    const T gr = gram_[g][(q0 + j) * P + r];
                    u[(0 * P + r) * kSub + j] = static_cast<T>(f.f00) * gr;
                    u[(1 * P + r) * kSub + j] = static_cast<T>(f.f01) * gr;
                    u[(2 * P + r) * kSub + j] = static_cast<T>(f.f10) * gr;
                    u[(3 * P + r) * kSub + j] = static_cast<T>(f.f11) * gr;
                }
                // A short last sub-block: its tasks' register tiles run all
                // kSub columns (and drop those past nj): zeros, not stale values.
                for (int64_t j = nj; j < kSub; ++j)
                    for (int64_t c = 0; c < 4; ++c) u[(c * P + r) * kSub + j] = T(0);
            }
        }
    const T s00 = static_cast<T>(sub_.f00), s01 = static_cast<T>(sub_.f01);
    const T s10 = static_cast<T>(sub_.f10), s11 = static_cast<T>(sub_.f11);
    // Per group, the weights of the raw coefficients c_r, e_r (q0 <= r < q) in
    // the corrections: cw_r = f00 c_r + f01 e_r, cv_r = f10 c_r + f11 e_r
    // (fold_[r]), times <x_r, x_q>.
    for (int64_t g = 0; g < G; ++g) {
        const T* gq = &gram_[g][q * P];
        T* u = &corr_[g * 4 * P];
        for (int64_t r = q0; r < q; ++r) {
            const Fold& f = fold_[r];
            u[r] = static_cast<T>(f.f00) * gq[r];
            u[P + r] = static_cast<T>(f.f01) * gq[r];
            u[2 * P + r] = static_cast<T>(f.f10) * gq[r];
            u[3 * P + r] = static_cast<T>(f.f11) * gq[r];
        }
    }
    // Presentation q - 1's c, e are still the integrator's (it zeroes them
    // in the tasks below, after each task has stored its slots' share): so
    // their store into ce_ is this loop's, not a pass and a parallel loop of
    // their own after q - 1.
    const T* prev_c = q > 0 ? it.c().data() : nullptr;
    const T* prev_e = q > 0 && momentum_ ? it.e().data() : nullptr;
    // In the order of PresentationTask's fields.
    const PresentationTask<T> a{n,           P,           q,          q0,       nj,          take_earlier, momentum_,
                                pre_.data(), corr_.data(), ce_.data(), prev_c,    prev_e,    z_.data(), gram_.data(),
                                s00,         s01,         s10,        s11,
                                aw,          av,          a0,         bw,       bv,          b0,
                                &dr_->wx[q * n], &dr_->w0x[q * n], momentum_ ? &dr_->vx[q * n] : nullptr,
                                it.dots(),   z};
    const SlotRun* runs = runs_.data();
    const int64_t* roff = run_off_.data();
    const int64_t ntasks = static_cast<int64_t>(tasks_.size());
    // Every neuron's x.x is its group's Gram diagonal: the largest of those,
    // as the integrator would take it over the neurons (max from 0). The
    // Gram matrices are the block start's: known before the corrections.
    const auto t_plan = std::chrono::steady_clock::now();
    double xx_max = 0.0;
    for (int64_t g = 0; g < G; ++g)
        if (groups_.offsets[g + 1] > groups_.offsets[g])  // (a group without members has no Gram matrix)
            xx_max = std::max(xx_max, static_cast<double>(gram_[g][q * P + q]));
    it.set_xx_max(xx_max);
    const bool planned = it.plan_to(steps);
    const auto t_corr = std::chrono::steady_clock::now();
    if (planned) {
        // The exponential form: the corrections and the sub-steps in one
        // parallel region, not one each (a fork and a join fewer per layer
        // and presentation). The corrections' loop ends in a barrier: the
        // sub-steps read every neuron's dots, and `alongside` (the next
        // layer's inputs) reads z. The same tasks and modules, each on the
        // thread its loop gives it: the same bits.
        auto t_mid = t_corr;
#pragma omp parallel if (par)
        {
#pragma omp for schedule(static)
            for (int64_t t = 0; t < ntasks; ++t) presentation_task(a, tasks_[t], runs + roff[t], roff[t + 1] - roff[t]);
            if (omp_get_thread_num() == 0) t_mid = std::chrono::steady_clock::now();
            it.run_planned(alongside);
        }
        it.end_planned();
        const auto t_end = std::chrono::steady_clock::now();
        profile_add(SleepPhase::corrections, std::chrono::duration<double>(t_mid - t_corr).count());
        profile_add(SleepPhase::substeps, std::chrono::duration<double>((t_corr - t_plan) + (t_end - t_mid)).count());
    } else {
#pragma omp parallel for schedule(static) if (par)
        for (int64_t t = 0; t < ntasks; ++t) presentation_task(a, tasks_[t], runs + roff[t], roff[t + 1] - roff[t]);
        profile_add(SleepPhase::corrections, seconds_since(t_corr));
        const auto t_sub = std::chrono::steady_clock::now();
        it.advance_to(steps, alongside);
        const double plan_s = std::chrono::duration<double>(t_corr - t_plan).count();
        profile_add(SleepPhase::substeps, seconds_since(t_sub) + plan_s);
    }
    const auto t_fold = std::chrono::steady_clock::now();
    // Fold the presentation's coordinates: w' = (1 + G) w + F v - G w0 + c x_q,
    // v' = B w + A v - B w0 + e x_q (models/anti_hebbian.hpp, materialize_discrete).
    // The map (w, v) -> ((1 + G) w + F v, B w + A v) is the same for every
    // neuron, so the earlier presentations' coefficients are not touched: their
    // shared fold matrices are, and the raw c_q, e_q are stored once.
    const ReducedShared sh = it.shared();
    // The map is fold_map (models/anti_hebbian.hpp); w0's pair's is fold_map_w0.
    const FoldPair nw = fold_map(sh, aw_, bw_), nv = fold_map(sh, av_, bv_), n0 = fold_map_w0(sh, a0_, b0_);
    aw_ = nw.w;
    av_ = nv.w;
    a0_ = n0.w;
    bw_ = nw.v;
    bv_ = nv.v;
    b0_ = n0.v;
    // This presentation's map [[1 + G, F], [B, A]] times a fold, column by column.
    auto then = [&](const Fold& o) {
        const FoldPair c0 = fold_map(sh, o.f00, o.f10), c1 = fold_map(sh, o.f01, o.f11);
        return Fold{c0.w, c1.w, c0.v, c1.v};
    };
    for (int64_t r = 0; r < q; ++r) fold_[r] = then(fold_[r]);
    fold_[q] = Fold{};
    sub_ = then(sub_);
    // The block's last presentation stores its c, e here (the block's end
    // reads them); the others' are stored by the next presentation's tasks.
    if (q + 1 < nb_) {
        profile_add(SleepPhase::folds, seconds_since(t_fold));
        return;
    }
    const T* c = it.c().data();
    const T* e = it.e().data();
    T* cq = &ce_[q * n];
    T* eq = momentum_ ? &ce_[(P + q) * n] : nullptr;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t t = 0; t < static_cast<int64_t>(tasks_.size()); ++t)
        for (int64_t k = roff[t]; k < roff[t + 1]; ++k) {
            const SlotRun& run = runs[k];
            const int64_t s = tasks_[t].r0 + run.j0;
            std::copy_n(c + run.i0, run.len, cq + s);
            if (momentum_) std::copy_n(e + run.i0, run.len, eq + s);
        }
    profile_add(SleepPhase::folds, seconds_since(t_fold));
}

template <class T>
bool BlockedLayer<T>::coefficients_finite() const {
    double acc = aw_ + av_ + a0_ + bw_ + bv_ + b0_;
    for (int64_t r = 0; r < nb_; ++r) acc += fold_[r].f00 + fold_[r].f01 + fold_[r].f10 + fold_[r].f11;
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
