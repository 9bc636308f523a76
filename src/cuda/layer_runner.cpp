// SPDX-License-Identifier: BSD-3-Clause
// Single-layer runs on the device (GroupRunner): validates what the kernels
// can run, sets up the runs (initial weights drawn here, by the same SingleLayerInputs as the
// CPU), integrates them in chunks of presentations on the device (kernels in
// src/cuda/layer_kernels.cu), and reports records, progress and checkpoints
// through each run's RunObserver exactly where run_single_layer does:
//   - on_begin and the step-0 record for runs that start from scratch;
//   - every record step (computed on the device, only records travel back);
//   - on_progress and on_checkpoint at presentation boundaries: chunks end at
//     every multiple of run.checkpoint_every, so checkpoints fall where the
//     CPU's do (progress is reported once per chunk, with the same `done`);
//   - stop_requested() between chunks (a chunk is at most ~2^17 steps).
// The theory line (Eq. 5) uses the input covariance accumulated on the
// device from the same Philox draws, and the CPU's Eq. 5 solver.
//
// The device is a cuda::DeviceApi (src/cuda/kernels.hpp): memory, copies and
// the kernels' entry points. cuda::device::api() is the GPU (nvcc build of
// src/cuda/*.cu), cuda::emulated::api() the same kernel sources built as host
// C++ and run by the emulator in src/cuda/emulation/; everything in this file
// is shared by the two. This file includes no CUDA header. The Backend
// adapter is src/cuda/cuda_backend.cpp; stacks are src/cuda/stack_runner.cpp.
#include "cuda/layer_runner.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/inputs.hpp"
#include "core/run_report.hpp"
#include "core/step_params.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/capabilities.hpp"
#include "cuda/device_memory.hpp"
#include "cuda/kernels.hpp"
#include "cuda/run_scalars.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/snr.hpp"

namespace dynshare {

namespace {


// The device records -log SNR_w only; |mean| / std is not computed there (the
// one-layer file layout does not store it).
constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

using cuda::device_check;

// A batch's device arrays (cuda::BatchState's pointers), carved from one
// arena (src/cuda/device_memory.hpp): G runs of n neurons and nk = n K
// weights, the noisy inputs only when noisy, rec_cap records per run.
template <class T>
cuda::BatchState<T> carve_batch(cuda::Arena& a, size_t G, size_t n, size_t nk, bool noisy, int rec_cap) {
    cuda::BatchState<T> st;
    st.w = a.take<T>(G * nk);
    st.w0 = a.take<T>(G * nk);
    st.v = a.take<T>(G * nk);
    st.r = a.take<T>(G * n);
    st.r_inh = a.take<T>(G);
    st.xbuf = noisy ? a.take<T>(G * nk) : nullptr;
    st.params = a.take<cuda::RunScalars>(G);
    st.active = a.take<int>(G);
    st.next = a.take<int64_t>(G);
    st.step = a.take<int64_t>(G);
    st.substeps = a.take<int64_t>(G);
    st.diverged = a.take<int>(G);
    st.diverged_step = a.take<int64_t>(G);
    st.rec_step = a.take<int64_t>(G * size_t(rec_cap));
    st.rec_value = a.take<double>(G * size_t(rec_cap));
    st.rec_count = a.take<int>(G);
    st.rec_cap = rec_cap;
    return st;
}

const char* run_chunk(const cuda::DeviceApi& dev, const cuda::BatchShape& shape, const cuda::BatchState<float>& st,
                      int runs, int64_t p0, int64_t p1) {
    return dev.run_chunk_f32(shape, st, runs, p0, p1);
}
const char* run_chunk(const cuda::DeviceApi& dev, const cuda::BatchShape& shape, const cuda::BatchState<double>& st,
                      int runs, int64_t p0, int64_t p1) {
    return dev.run_chunk_f64(shape, st, runs, p0, p1);
}

// A batch of G runs integrates in chunks of presentations: chunks end at
// checkpoint boundaries, are at most ~2^17 steps long (stop requests are
// honoured between chunks) and hold at most 2^25 records in flight over the
// whole batch (rec_cap per run).
struct Chunking {
    int64_t chunk = 1;  // presentations
    int rec_cap = 1;
};

Chunking chunking_of(const SimConfig& c, int64_t G) {
    const int64_t S = c.steps_per_presentation(), R = c.run.record_every;
    Chunking out;
    out.chunk = std::max<int64_t>(1, (int64_t(1) << 17) / S);
    const int64_t rec_per_run = std::max<int64_t>(1, (int64_t(1) << 25) / G);
    out.chunk = std::min(out.chunk, std::max<int64_t>(1, (rec_per_run - 2) * R / S));
    out.chunk = std::min(out.chunk, c.run.checkpoint_every);
    out.rec_cap = static_cast<int>(out.chunk * S / R + 2);
    return out;
}

// The theory line's input covariances, `block` runs at a time (at most 256 MiB).
struct CovArrays {
    double* cov;
    int64_t* np;
};
int64_t cov_block(int64_t G, size_t kk) {
    return std::max<int64_t>(1, std::min<int64_t>(G, (int64_t(256) << 20) / int64_t(kk * 8)));
}
CovArrays carve_cov(cuda::Arena& a, int64_t block, size_t kk) {
    return CovArrays{a.take<double>(size_t(block) * kk), a.take<int64_t>(size_t(block))};
}

// Runs of one batch key (src/cuda/batching.hpp), all at once on the device.
template <class T>
class GroupRunner : private cuda::DeviceCopies {
public:
    GroupRunner(const cuda::DeviceApi& dev, const std::vector<LayerJob>& jobs, const BatchOptions& opt)
        : DeviceCopies(dev), jobs_(jobs), opt_(opt) {
        const SimConfig& c = *jobs.front().cfg;
        shape_.method = layer_method_of(c);
        shape_.n = c.layer.neurons;
        shape_.k = c.layer.kernel * c.layer.kernel;
        shape_.steps = c.steps_per_presentation();
        shape_.presentations = c.run.presentations;
        shape_.record_every = c.run.record_every;
        shape_.noisy = c.input.noise_std > 0.0 ? 1 : 0;
        ce_ = c.run.checkpoint_every;
    }

    void run() {
        const int64_t G = static_cast<int64_t>(jobs_.size());
        n_ = shape_.n;
        K_ = shape_.k;
        const size_t nk = static_cast<size_t>(n_) * K_;
        const int64_t S = shape_.steps;
        const Chunking ch = chunking_of(*jobs_.front().cfg, G);
        chunk_ = ch.chunk;
        rec_cap_ = ch.rec_cap;

        // --- host set-up: weights drawn by the CPU's own code -----------------
        std::vector<T> hw(G * nk), hw0(G * nk), hv(G * nk), hr(G * n_), hq(G);
        std::vector<cuda::RunScalars> hp(G);
        std::vector<int64_t> hnext(G), hstep(G), hzero(G, 0);
        std::vector<double> nls0(G);
        w0_.assign(G, {});
        std::string setup_error;
#pragma omp parallel for schedule(dynamic, 16)
        for (int64_t b = 0; b < G; ++b) {
            const LayerJob& jb = jobs_[b];
            const SimConfig& cfg = *jb.cfg;
            hp[b] = run_scalars(cfg, StepParams::from(cfg));
            std::vector<double> w, v, r;
            double q = 0.0;
            if (jb.resume) {
                const LayerState& ck = jb.resume->layers.at(0);
                if (jb.resume->layers.size() != 1 || ck.w.size() != nk || ck.w0.size() != nk || ck.v.size() != nk || ck.r.size() != size_t(n_) ||
                    ck.r_inh.size() != 1) {
#pragma omp critical
                    setup_error = "the checkpoint to resume from does not match layer.neurons and layer.kernel";
                    continue;
                }
                w = ck.w;
                w0_[b] = ck.w0;
                v = ck.v;
                r = ck.r;
                q = ck.r_inh[0];
                hnext[b] = jb.resume->presentation;
                hstep[b] = jb.resume->step;
            } else {
                w = jb.initial ? *jb.initial : SingleLayerInputs(cfg).initial_weights();
                if (w.size() != nk) {
#pragma omp critical
                    setup_error = "the initial weights do not match layer.neurons and layer.kernel";
                    continue;
                }
                w0_[b] = w;
                v.assign(nk, 0.0);
                r.assign(n_, cfg.dynamics.bias);
                hnext[b] = 0;
                hstep[b] = 0;
                nls0[b] = neg_log_snr(w.data(), n_, K_);
            }
            const size_t base = static_cast<size_t>(b) * nk;
            for (int i = 0; i < n_; ++i)
                for (int j = 0; j < K_; ++j) {
                    hw[base + size_t(j) * n_ + i] = static_cast<T>(w[size_t(i) * K_ + j]);
                    hw0[base + size_t(j) * n_ + i] = static_cast<T>(w0_[b][size_t(i) * K_ + j]);
                    hv[base + size_t(j) * n_ + i] = static_cast<T>(v[size_t(i) * K_ + j]);
                }
            for (int i = 0; i < n_; ++i) hr[b * n_ + i] = static_cast<T>(r[i]);
            hq[b] = static_cast<T>(q);
        }
        if (!setup_error.empty()) throw UserError("--backend cuda: " + setup_error);

        st_ = cuda::carve_allocated(
            dev_, [&](cuda::Arena& ar) { return carve_batch<T>(ar, G, n_, nk, shape_.noisy != 0, rec_cap_); },
            block_);
        const cuda::BatchState<T>& st = st_;
        up(st.w, hw);
        up(st.w0, hw0);
        up(st.v, hv);
        up(st.r, hr);
        up(st.r_inh, hq);
        up(const_cast<cuda::RunScalars*>(st.params), hp);
        up(st.next, hnext);
        up(st.step, hstep);
        up(st.substeps, hzero);
        up(st.diverged, std::vector<int>(G, 0));
        up(st.diverged_step, std::vector<int64_t>(G, -1));
        hw = {};
        hw0 = {};
        hv = {};

        // --- the runs' beginnings, as run_single_layer reports them -----------
        const int64_t P = shape_.presentations;
        std::vector<int> active(G, 1);
        for (int64_t b = 0; b < G; ++b) {
            const LayerJob& jb = jobs_[b];
            if (!jb.resume) {
                RunState c;
                LayerState l;
                l.n = n_;
                l.k = K_;
                l.w = w0_[b];
                l.w0 = w0_[b];
                l.v.assign(nk, 0.0);
                l.r.assign(n_, jb.cfg->dynamics.bias);
                l.r_inh.assign(1, 0.0);
                c.layers.push_back(std::move(l));
                jb.observer->on_begin(c);
                jb.observer->on_record(0, 0.0, {nls0[b]}, {kNoValue});
            }
            if (hnext[b] >= P) active[b] = 0;  // resumed at the end: nothing to do
        }

        // --- chunks of presentations ------------------------------------------
        std::vector<int64_t> rs, cnext, cstep;
        std::vector<double> rv;
        std::vector<int> rc, dv;
        std::vector<int64_t> dstep;
        std::vector<int> interrupted(G, 0);
        for (;;) {
            int64_t p0 = P;
            for (int64_t b = 0; b < G; ++b) {
                if (!active[b]) continue;
                if (jobs_[b].observer->stop_requested()) {
                    active[b] = 0;
                    interrupted[b] = 1;
                    continue;
                }
                p0 = std::min(p0, hnext[b]);
            }
            if (p0 >= P) break;
            const int64_t p1 = std::min({P, p0 + chunk_, (p0 / ce_ + 1) * ce_});
            up(st.active, active);
            device_check(run_chunk(dev_, shape_, st, static_cast<int>(G), p0, p1), "integrating a chunk");
            down(rc, st.rec_count, G);
            down(cnext, st.next, G);
            down(cstep, st.step, G);
            down(dv, st.diverged, G);
            down(dstep, st.diverged_step, G);
            down(rs, st.rec_step, G * size_t(rec_cap_));
            down(rv, st.rec_value, G * size_t(rec_cap_));
            bool checkpoint_due = false;
            for (int64_t b = 0; b < G; ++b) {
                if (!active[b]) continue;
                const LayerJob& jb = jobs_[b];
                const double dt_record = jb.cfg->model == ModelKind::ideal ? 1.0 : jb.cfg->dynamics.dt;
                if (rc[b] > rec_cap_) throw std::logic_error("cuda backend: record buffer overflow");
                for (int j = 0; j < rc[b]; ++j) {
                    const int64_t s = rs[size_t(b) * rec_cap_ + j];
                    jb.observer->on_record(s, static_cast<double>(s) * dt_record, {rv[size_t(b) * rec_cap_ + j]},
                                           {kNoValue});
                }
                const int64_t before = hnext[b];
                hnext[b] = cnext[b];
                hstep[b] = cstep[b];
                if (dv[b]) {
                    // The engine's report (core/run_report.hpp) of what the kernel detected.
                    active[b] = 0;
                    report_divergence(*jb.result, false, 0, dstep[b],
                                      dv[b] == 2 ? overflow_at(dstep[b], hnext[b])
                                                 : nonfinite_during(hnext[b], hstep[b], S));
                    continue;
                }
                if (hnext[b] > before) jb.observer->on_progress(hnext[b], P);
                if (hnext[b] >= P) active[b] = 0;
                else if (hnext[b] == p1 && p1 % ce_ == 0) checkpoint_due = true;
            }
            if (checkpoint_due && opt_.checkpoints) {
                download_state();
                for (int64_t b = 0; b < G; ++b)
                    if (active[b] && hnext[b] == p1) jobs_[b].observer->on_checkpoint(state_of(b, p1, hstep[b]));
            }
        }

        // --- results ------------------------------------------------------------
        std::vector<int64_t> subs;
        down(subs, st.substeps, G);
        if (opt_.final_state) download_state();
        else {
            down(hr_, st.r, G * size_t(n_));
            down(hq_, st.r_inh, G);
        }
        for (int64_t b = 0; b < G; ++b) {
            RunResult& res = *jobs_[b].result;
            if (interrupted[b]) res.status = RunStatus::interrupted;
            res.integrator_steps = subs[b];
            if (opt_.final_state) {
                res.state = state_of(b, hnext[b], hstep[b]);
            } else {
                res.state = RunState{};
                res.state.presentation = hnext[b];
                res.state.step = hstep[b];
                LayerState l;
                l.n = n_;
                l.k = K_;
                l.r.resize(n_);
                for (int i = 0; i < n_; ++i) l.r[i] = static_cast<double>(hr_[b * n_ + i]);
                l.r_inh.assign(1, static_cast<double>(hq_[b]));
                res.state.layers.push_back(std::move(l));
            }
        }
        theory(hnext);
    }

private:
    void download_state() {
        const size_t G = jobs_.size(), nk = static_cast<size_t>(n_) * K_;
        down(hw_, st_.w, G * nk);
        down(hv_, st_.v, G * nk);
        down(hr_, st_.r, G * size_t(n_));
        down(hq_, st_.r_inh, G);
    }
    RunState state_of(int64_t b, int64_t presentation, int64_t step) const {
        const size_t nk = static_cast<size_t>(n_) * K_, base = static_cast<size_t>(b) * nk;
        RunState st;
        st.presentation = presentation;
        st.step = step;
        LayerState c;
        c.n = n_;
        c.k = K_;
        c.w.resize(nk);
        c.v.resize(nk);
        for (int i = 0; i < n_; ++i)
            for (int j = 0; j < K_; ++j) {
                c.w[size_t(i) * K_ + j] = static_cast<double>(hw_[base + size_t(j) * n_ + i]);
                c.v[size_t(i) * K_ + j] = static_cast<double>(hv_[base + size_t(j) * n_ + i]);
            }
        c.w0 = w0_[b];  // exact: the device never changes w0
        c.r.resize(n_);
        for (int i = 0; i < n_; ++i) c.r[i] = static_cast<double>(hr_[b * n_ + i]);
        c.r_inh.assign(1, static_cast<double>(hq_[b]));
        st.layers.push_back(std::move(c));
        return st;
    }
    // Eq. 5 theory line over the presentations each run did: covariance on the
    // device (fp64), the K x K solve on the host, runs in parallel.
    void theory(const std::vector<int64_t>& done) {
        const int64_t G = static_cast<int64_t>(jobs_.size());
        const size_t kk = static_cast<size_t>(K_) * K_;
        const int64_t block = cov_block(G, kk);
        std::unique_ptr<cuda::DeviceBlock> mem;
        const CovArrays d =
            cuda::carve_allocated(dev_, [&](cuda::Arena& ar) { return carve_cov(ar, block, kk); }, mem);
        std::vector<double> hc;
        for (int64_t b0 = 0; b0 < G; b0 += block) {
            const int64_t m = std::min(block, G - b0);
            up(d.np, std::vector<int64_t>(done.begin() + b0, done.begin() + b0 + m));
            device_check(dev_.input_covariance(st_.params + b0, d.np, static_cast<int>(m), K_, d.cov),
                         "input covariance");
            down(hc, d.cov, size_t(block) * kk);
#pragma omp parallel for schedule(dynamic, 4)
            for (int64_t j = 0; j < m; ++j) {
                const std::vector<double> C(hc.begin() + j * kk, hc.begin() + (j + 1) * kk);
                jobs_[b0 + j].result->theory_min =
                    theory_min_neg_log_snr(C, w0_[b0 + j], n_, K_, jobs_[b0 + j].cfg->plasticity.gamma);
            }
        }
    }

    const std::vector<LayerJob>& jobs_;
    BatchOptions opt_;
    cuda::BatchShape shape_;
    int64_t ce_ = 1, chunk_ = 1;
    int rec_cap_ = 1;
    int n_ = 0, K_ = 0;
    std::vector<std::vector<double>> w0_;   // exact initial weights, n x K row-major
    std::vector<T> hw_, hv_, hr_, hq_;      // device layout, after download_state()
    std::unique_ptr<cuda::DeviceBlock> block_;  // the batch's one allocation, carved into st_
    cuda::BatchState<T> st_;
};

}  // namespace

long long layer_batch_device_bytes(const SimConfig& c, int runs, size_t elem) {
    const size_t n = size_t(c.layer.neurons), K = size_t(c.layer.kernel) * c.layer.kernel, nk = n * K;
    const bool noisy = c.input.noise_std > 0.0;
    const int rec_cap = chunking_of(c, runs).rec_cap;
    cuda::Arena counting;
    if (elem == 8) carve_batch<double>(counting, size_t(runs), n, nk, noisy, rec_cap);
    else carve_batch<float>(counting, size_t(runs), n, nk, noisy, rec_cap);
    carve_cov(counting, cov_block(runs, K * K), K * K);  // the theory line's, allocated beside them at the end
    return static_cast<long long>(counting.used());
}

void run_layer_batch(const cuda::DeviceApi& dev, const std::vector<LayerJob>& jobs, const BatchOptions& opt,
                     DevicePrecision precision) {
    if (jobs.empty()) return;
    if (precision == DevicePrecision::fp64) GroupRunner<double>(dev, jobs, opt).run();
    else GroupRunner<float>(dev, jobs, opt).run();
}

}  // namespace dynshare
