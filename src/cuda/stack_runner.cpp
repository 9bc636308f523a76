// SPDX-License-Identifier: BSD-3-Clause
// Stacked plans on the CUDA backend: the host side. The loop below is the
// engine's run loop (src/core/engine.cpp, `run`) statement for statement --
// the same presentations, schedules (simultaneous, layer_by_layer with its
// frozen layers and plasticity clocks), record segments, divergence checks
// and messages, checkpoints and resume -- with the layers' state on the
// device and every per-neuron and per-module computation in the kernels of
// src/cuda/stack_kernels.cu (through DeviceApi::stack_f32/f64, so the GPU
// and the emulator share this file). The loop drives one run or a batch of
// runs of one plan (a sweep: run_stack_batch_on_device), each launch covering
// the whole batch, and reports to each run's observer as the engine would.
// What travels back per presentation: one double per module (state_finite)
// per layer and run, and at each record one triple per SNR module per layer
// and run; the weights only for checkpoints and the final state (never for
// resident weights, run_stack_resident).
#include "cuda/stack_runner.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/run_loop.hpp"
#include "core/run_report.hpp"
#include "core/run_schedule.hpp"
#include "core/step_params.hpp"
#include "cuda/batching.hpp"
#include "cuda/capabilities.hpp"
#include "cuda/device_memory.hpp"
#include "cuda/run_scalars.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/philox.hpp"
#include "dynshare/snr.hpp"
#include "models/snr_sums.hpp"

namespace dynshare {

namespace {

constexpr int kInputsThreads = 128;  // stack_kernels.cu
using cuda::Arena;

// Errors of the device runtime, naming the stacked plan.
void dev_check(const char* err, const char* what) {
    cuda::device_check(err, std::string("(stacked plan) ") + what);
}

int64_t largest_module(const LayerPlan& pl) {
    int64_t m = 1;
    for (int64_t i = 0; i < pl.modules(); ++i) m = std::max(m, pl.module_offsets[i + 1] - pl.module_offsets[i]);
    return m;
}

cuda::StackGeometry geometry_of(const RunPlan& plan, int l) {
    const LayerPlan& pl = plan.layers[l];
    const LcGeometry& g = pl.g;
    cuda::StackGeometry s;
    s.n = static_cast<int>(pl.neurons);
    s.K = static_cast<int>(pl.fan_in);
    s.modules = static_cast<int>(pl.modules());
    s.snr_modules = static_cast<int>(pl.snr_offsets.size()) - 1;
    s.c_in = g.c_in;
    s.h_in = g.h_in;
    s.w_in = g.w_in;
    s.c_out = g.c_out;
    s.k = g.k;
    s.stride = g.stride;
    s.padding = g.padding;
    s.h_out = g.h_out();
    s.w_out = g.w_out();
    s.period = pl.period;
    s.in_period = pl.in_period;
    s.max_module = static_cast<int>(largest_module(pl));
    s.relu = pl.phi == Nonlinearity::relu ? 1 : 0;
    s.layer = l;
    s.inputs_blocks = static_cast<int>((pl.neurons + kInputsThreads - 1) / kInputsThreads);
    return s;
}

// The device arrays of a batch of R runs of one plan, carved from one arena
// (nullptr base: counting only, so the memory check adds up the same list).
// The plan's index arrays are one copy shared by every run; each run has its
// own state and scratch (layer l's pout is layer l + 1's pin); the per-module
// partials that the host reads every presentation are one contiguous array
// per layer over the runs, so one copy brings them all back.
template <class T>
struct BatchArrays {
    std::vector<std::vector<cuda::StackLayerDev<T>>> runs;  // [run][layer], host copies of the descriptors
    std::vector<cuda::StackLayerDev<T>*> layers;            // [layer]: R descriptors on the device
    std::vector<cuda::StackScalars*> active, frozen;        // [layer]: R scalars on the device
    std::vector<double*> fin, snr;                          // [layer]: R x modules, R x 3 snr_modules
};

template <class T>
BatchArrays<T> carve(const RunPlan& plan, int R, Arena& a) {
    const int L = plan.num_layers();
    BatchArrays<T> out;
    out.runs.assign(R, std::vector<cuda::StackLayerDev<T>>(L));
    out.layers.resize(L);
    out.active.resize(L);
    out.frozen.resize(L);
    out.fin.resize(L);
    out.snr.resize(L);
    for (int l = 0; l < L; ++l) {
        const LayerPlan& pl = plan.layers[l];
        const size_t n = pl.neurons, M = pl.modules(), sm = std::max<size_t>(1, pl.snr_offsets.size() - 1);
        cuda::StackLayerDev<T> shared;  // what every run shares
        shared.g = geometry_of(plan, l);
        shared.order = a.take<int64_t>(n);
        shared.offsets = a.take<int64_t>(M + 1);
        shared.snr_rows = a.take<int64_t>(std::max<size_t>(1, pl.snr_rows.size()));
        shared.snr_offsets = a.take<int64_t>(sm + 1);
        shared.module_of_cell = a.take<int64_t>(pl.module_of_cell.size());
        out.layers[l] = a.take<cuda::StackLayerDev<T>>(R);
        out.active[l] = a.take<cuda::StackScalars>(R);
        out.frozen[l] = a.take<cuda::StackScalars>(R);
        out.fin[l] = a.take<double>(size_t(R) * M);
        out.snr[l] = a.take<double>(size_t(R) * 3 * sm);
        for (int b = 0; b < R; ++b) {
            cuda::StackLayerDev<T>& d = out.runs[b][l];
            d = shared;
            const size_t nk = n * pl.fan_in;
            d.w = a.take<T>(nk);
            d.w0 = a.take<T>(nk);
            d.v = a.take<T>(nk);
            d.x = a.take<T>(nk);
            d.r = a.take<T>(n);
            d.c = a.take<T>(n);
            d.e = a.take<T>(n);
            d.sw = a.take<T>(n);
            d.sv = a.take<T>(n);
            d.sd = a.take<T>(n);
            d.xx = a.take<T>(n);
            d.z = a.take<T>(n);
            d.r_inh = a.take<T>(M);
            d.means = a.take<T>(M);
            d.pin = a.take<T>(size_t(pl.g.c_in) * pl.g.h_in * pl.g.w_in);
            d.patch = l == 0 ? a.take<double>(size_t(pl.g.c_in) * plan.pattern_period * plan.pattern_period) : nullptr;
            d.shared = a.take<double>(8);
            d.xx_part = a.take<double>(d.g.inputs_blocks);
            d.snr_terms = a.take<double>(4 * sm * pl.fan_in);
            d.substeps = a.take<int64_t>(1);
            if (a.counting()) continue;
            d.fin_part = out.fin[l] + size_t(b) * M;
            d.snr_part = out.snr[l] + size_t(b) * 3 * sm;
        }
    }
    for (auto& run : out.runs)
        for (int l = 0; l + 1 < L; ++l) run[l].pout = run[l + 1].pin;
    return out;
}

int64_t out_index(const LayerPlan& pl, int64_t s) { return pl.order.empty() ? s : pl.order[s]; }

std::string layer_name(int l) { return "layer " + std::to_string(l); }

const char* launch(const cuda::DeviceApi& dev, const cuda::StackLaunch<float>& a) { return dev.stack_f32(a); }
const char* launch(const cuda::DeviceApi& dev, const cuda::StackLaunch<double>& a) { return dev.stack_f64(a); }

// Runs of one plan on the device: one run (simulate, resume, resident
// weights) or a batch of R runs that share the plan and the loop structure
// (batch_key) and differ in their per-run scalars and seeds. Every kernel
// launch covers all R runs (blockIdx.y), so the loop below runs once per
// batch; what it reports, it reports per run, as R separate engine runs would.
template <class T>
class StackRunner : private cuda::DeviceCopies {
public:
    StackRunner(const cuda::DeviceApi& dev, std::vector<const SimConfig*> cfgs, const RunPlan& plan)
        : DeviceCopies(dev), cfgs_(std::move(cfgs)), cfg_(*cfgs_.front()), plan_(plan), L_(plan.num_layers()),
          R_(static_cast<int>(cfgs_.size())) {}
    StackRunner(const StackRunner&) = delete;
    StackRunner& operator=(const StackRunner&) = delete;

    // `initial`, `resume` and `resident` are for one run (R = 1) only; a
    // batch starts every run from its own seed's weights. `resident`: the
    // weights are on the device already (run_stack_resident), no state is
    // copied to the host, and the final weights are written back unless the
    // run diverged (then the caller's weights stay as they were).
    // opt.checkpoints: call on_checkpoint (observers that want states);
    // opt.final_state false: the final states hold the counters and rates only.
    std::vector<RunResult> run(const std::vector<RunObserver*>& observers, const BatchOptions& opt,
                               const std::vector<std::vector<double>>& initial = {},
                               const RunState* resume = nullptr, const ResidentWeights* resident = nullptr);

private:
    void op(int which, int l, int64_t p = 0, int64_t s0 = 0, int64_t j_from = 0, int64_t j_to = 0,
            int materialized = 0, bool active = true, float* ext = nullptr) {
        cuda::StackLaunch<T> a;
        a.op = which;
        a.layers = arrays_.layers[l];
        a.scalars = active ? arrays_.active[l] : arrays_.frozen[l];
        a.g = arrays_.runs[0][l].g;
        a.runs = R_;
        a.method = method_;
        a.p = p;
        a.s0 = s0;
        a.j_from = j_from;
        a.j_to = j_to;
        a.par = par_[l];
        a.materialized = materialized;
        a.ext = ext;
        dev_check(launch(dev_, a), "a stacked-plan kernel");
    }
    void init(const std::vector<std::vector<double>>& initial, const RunState* resume,
              const ResidentWeights* resident);
    RunState snapshot(int b, int64_t p, int64_t step);
    // The final state without the weights (they stay on the device): r, r_inh.
    RunState rates_only(int b, int64_t p, int64_t step);
    int64_t substeps(int b);
    // module_snr of layer l of every run from the device's per-module sums
    // (the CPU's module average, in the CPU's order).
    std::vector<LayerSnr> metrics(int l, bool materialized);

    const std::vector<const SimConfig*> cfgs_;
    const SimConfig& cfg_;  // the batch's loop structure (the same in every run)
    const RunPlan& plan_;
    const int L_, R_;
    int method_ = cuda::method_euler;
    std::unique_ptr<cuda::DeviceBlock> block_;  // the batch's one allocation, carved into arrays_
    BatchArrays<T> arrays_;
    std::vector<int> par_;
    std::vector<std::vector<std::vector<double>>> w0_;  // [run][layer], output order, as the device holds it
};

template <class T>
void StackRunner<T>::init(const std::vector<std::vector<double>>& initial, const RunState* resume,
                          const ResidentWeights* resident) {
    // As the engine's init_blocks: the same checks and messages.
    if (R_ > 1 && (resume || resident || !initial.empty()))
        throw std::invalid_argument("stacked runs on the device: a batch starts every run from its seed");
    if (resident && static_cast<int>(resident->layers.size()) != L_)
        throw UserError("resident weights: " + std::to_string(resident->layers.size()) + " layers given for a plan of " +
                        std::to_string(L_));
    if (resident) {
        for (int l = 0; l < L_; ++l)
            if (!resident->layers[l]) throw UserError("resident weights of " + layer_name(l) + ": null pointer");
    } else {
        check_run_start(plan_, initial, resume);  // the engine's checks and messages (core/run_report.hpp)
    }

    arrays_ = cuda::carve_allocated(dev_, [&](Arena& a) { return carve<T>(plan_, R_, a); }, block_);

    method_ = stack_method_of(cfg_);
    par_.assign(L_, 0);
    w0_.assign(R_, std::vector<std::vector<double>>(L_));
    for (int l = 0; l < L_; ++l) {
        const LayerPlan& pl = plan_.layers[l];
        // The plan's index arrays: one copy for every run.
        const cuda::StackLayerDev<T>& d0 = arrays_.runs[0][l];
        up(const_cast<int64_t*>(d0.order), pl.order);
        up(const_cast<int64_t*>(d0.offsets), pl.module_offsets);
        up(const_cast<int64_t*>(d0.snr_rows), pl.snr_rows);
        up(const_cast<int64_t*>(d0.snr_offsets), pl.snr_offsets);
        up(const_cast<int64_t*>(d0.module_of_cell), pl.module_of_cell);
        // Each run's descriptor and scalars (its own step parameters and seed).
        std::vector<cuda::StackLayerDev<T>> descriptors(R_);
        std::vector<cuda::StackScalars> active(R_), frozen(R_);
        for (int b = 0; b < R_; ++b) {
            const SimConfig& c = *cfgs_[b];
            for (cuda::StackScalars* s : {&active[b], &frozen[b]}) {
                s->run = run_scalars(c, StepParams::for_layer(c, pl.fan_in, s == &active[b]));
                s->drive = plan_.drive;
                s->normalize = plan_.normalize ? 1 : 0;
                s->periodic = plan_.periodic_border ? 1 : 0;
                s->pattern_period = plan_.pattern_period;
                s->method = method_;
            }
            descriptors[b] = arrays_.runs[b][l];
        }
        up(arrays_.layers[l], descriptors);
        up(arrays_.active[l], active);
        up(arrays_.frozen[l], frozen);
    }

    for (int b = 0; b < R_; ++b) {
        std::vector<std::vector<double>> drawn;
        if (!resume && !resident && initial.empty()) drawn = initial_weights(*cfgs_[b], plan_);
        const auto& w_init = initial.empty() ? drawn : initial;
        for (int l = 0; l < L_; ++l) {
            const LayerPlan& pl = plan_.layers[l];
            const cuda::StackLayerDev<T>& d = arrays_.runs[b][l];
            const int64_t n = pl.neurons, k = pl.fan_in;
            up(d.substeps, std::vector<int64_t>{0});
            up(d.shared, std::vector<double>{1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0});
            if (resident) {
                // block_from_state on the device: w = w0 = the caller's weights, v = 0.
                up(d.r, std::vector<T>(size_t(n), static_cast<T>(cfg_.dynamics.bias)));
                up(d.r_inh, std::vector<T>(size_t(pl.modules()), T(0)));
                op(cuda::stack_op_load, l, 0, 0, 0, 0, 0, true, resident->layers[l]);
                continue;
            }
            // The engine's block_from_state: output order -> block order, K x n here.
            const std::vector<double>* w;
            const std::vector<double>* w0;
            std::vector<double> zeros, rates, inh;
            const std::vector<double>* v;
            if (resume) {
                const LayerState& s = resume->layers[l];
                w = &s.w;
                w0 = &s.w0;
                v = &s.v;
                rates = s.r;
                inh = s.r_inh;
            } else {
                w = &w_init[l];
                w0 = &w_init[l];
                zeros.assign(w->size(), 0.0);
                v = &zeros;
                rates.assign(n, cfgs_[b]->dynamics.bias);
                inh.assign(pl.modules(), 0.0);
            }
            std::vector<T> hw(n * k), hw0(n * k), hv(n * k), hr(n), hq(pl.modules());
            w0_[b][l].assign(n * k, 0.0);
            for (int64_t i = 0; i < n; ++i) {
                const int64_t src = out_index(pl, i);
                for (int64_t j = 0; j < k; ++j) {
                    hw[j * n + i] = static_cast<T>((*w)[src * k + j]);
                    hw0[j * n + i] = static_cast<T>((*w0)[src * k + j]);
                    hv[j * n + i] = static_cast<T>((*v)[src * k + j]);
                    w0_[b][l][src * k + j] = static_cast<double>(hw0[j * n + i]);
                }
                hr[i] = static_cast<T>(rates[src]);
            }
            for (int64_t m = 0; m < pl.modules(); ++m) hq[m] = static_cast<T>(inh[m]);
            up(d.w, hw);
            up(d.w0, hw0);
            up(d.v, hv);
            up(d.r, hr);
            up(d.r_inh, hq);
        }
    }
}

template <class T>
RunState StackRunner<T>::snapshot(int b, int64_t p, int64_t step) {
    // The engine's state_from_block: block order (K x n) -> output order.
    RunState st;
    st.presentation = p;
    st.step = step;
    std::vector<T> hw, hv, hr, hq;
    for (int l = 0; l < L_; ++l) {
        const LayerPlan& pl = plan_.layers[l];
        const cuda::StackLayerDev<T>& d = arrays_.runs[b][l];
        const int64_t n = pl.neurons, k = pl.fan_in;
        down(hw, d.w, n * k);
        down(hv, d.v, n * k);
        down(hr, d.r, n);
        down(hq, d.r_inh, pl.modules());
        LayerState s;
        s.n = n;
        s.k = k;
        s.w.resize(n * k);
        s.v.resize(n * k);
        s.r.resize(n);
        s.w0 = w0_[b][l];
        for (int64_t i = 0; i < n; ++i) {
            const int64_t dst = out_index(pl, i);
            for (int64_t j = 0; j < k; ++j) {
                s.w[dst * k + j] = static_cast<double>(hw[j * n + i]);
                s.v[dst * k + j] = static_cast<double>(hv[j * n + i]);
            }
            s.r[dst] = static_cast<double>(hr[i]);
        }
        s.r_inh.assign(hq.begin(), hq.end());
        st.layers.push_back(std::move(s));
    }
    return st;
}

template <class T>
RunState StackRunner<T>::rates_only(int b, int64_t p, int64_t step) {
    RunState st;
    st.presentation = p;
    st.step = step;
    std::vector<T> hr, hq;
    for (int l = 0; l < L_; ++l) {
        const LayerPlan& pl = plan_.layers[l];
        down(hr, arrays_.runs[b][l].r, pl.neurons);
        down(hq, arrays_.runs[b][l].r_inh, pl.modules());
        LayerState s;
        s.n = pl.neurons;
        s.k = pl.fan_in;
        s.r.resize(pl.neurons);
        for (int64_t i = 0; i < pl.neurons; ++i) s.r[out_index(pl, i)] = static_cast<double>(hr[i]);
        s.r_inh.assign(hq.begin(), hq.end());
        st.layers.push_back(std::move(s));
    }
    return st;
}

template <class T>
int64_t StackRunner<T>::substeps(int b) {
    int64_t total = 0;
    std::vector<int64_t> subs;
    for (int l = 0; l < L_; ++l) {
        down(subs, arrays_.runs[b][l].substeps, 1);
        total += subs[0];
    }
    return total;
}

template <class T>
std::vector<LayerSnr> StackRunner<T>::metrics(int l, bool materialized) {
    const LayerPlan& pl = plan_.layers[l];
    const int64_t modules = static_cast<int64_t>(pl.snr_offsets.size()) - 1;
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    if (modules <= 0 || pl.fan_in <= 0) return std::vector<LayerSnr>(R_, LayerSnr{nan, nan});
    op(cuda::stack_op_snr, l, 0, 0, 0, 0, materialized ? 1 : 0);
    std::vector<double> part;
    down(part, arrays_.snr[l], size_t(R_) * 3 * size_t(modules));
    // module_averages (src/core/snr.cpp): the same sums, the same order.
    std::vector<LayerSnr> out;
    const double k = static_cast<double>(pl.fan_in), md = static_cast<double>(modules);
    for (int b = 0; b < R_; ++b) {
        const double* q = part.data() + size_t(b) * 3 * size_t(modules);
        SnrLayerSum total;
        bool finite = true;
        for (int64_t m = 0; m < modules; ++m) {
            finite = finite && q[3 * m + 2] != 0.0;
            total.add_module(q[3 * m], q[3 * m + 1], k);
        }
        out.push_back({total.neg_log_snr(md), total.mean_abs_over_std(md), finite});
    }
    return out;
}

template <class T>
std::vector<RunResult> StackRunner<T>::run(const std::vector<RunObserver*>& observers, const BatchOptions& opt,
                                           const std::vector<std::vector<double>>& initial, const RunState* resume,
                                           const ResidentWeights* resident) {
    if (static_cast<int>(observers.size()) != R_) throw std::invalid_argument("one observer per stacked run");
    const auto t_start = std::chrono::steady_clock::now();
    init(initial, resume, resident);
    const int L = L_, R = R_;
    const RunSchedule sch = RunSchedule::from(cfg_, plan_);  // the engine's stops and active layer
    const int64_t S = sch.steps(), P = sch.presentations();

    std::vector<RunResult> results(R);
    // As the engine: an observer that wants no states gets no on_begin and no
    // checkpoint copies (RunObserver::wants_states).
    std::vector<char> states(R), live(R, 1);
    for (int b = 0; b < R; ++b) {
        results[b].layer_seconds.assign(L, 0.0);
        results[b].pattern_seconds.assign(L, 0.0);
        states[b] = observers[b]->wants_states() ? 1 : 0;
    }
    std::vector<std::vector<double>> nls(R, std::vector<double>(L)), mas(R, std::vector<double>(L));
    std::vector<std::vector<char>> rec_finite(R, std::vector<char>(L, 1)), finite(R, std::vector<char>(L, 1));
    std::vector<char> is_active(L, 1);
    std::vector<int64_t> s0(L, 0), stops;

    auto metrics_of = [&](int l, bool materialized, bool only_finite) {
        const std::vector<LayerSnr> m = metrics(l, materialized);
        for (int b = 0; b < R; ++b) {
            if (only_finite && !finite[b][l]) continue;  // the engine computes no record of a non-finite state
            nls[b][l] = m[b].neg_log_snr;
            mas[b][l] = m[b].mean_abs_over_std;
            rec_finite[b][l] = m[b].finite ? 1 : 0;
        }
    };
    auto first_bad = [&](const std::vector<char>& ok) {
        for (int l = 0; l < L; ++l)
            if (!ok[l]) return l;
        return -1;
    };
    // Run b ends here: its state now is what the engine would hold when it
    // leaves its loop (the batch goes on; run b's arrays are not read again).
    auto finish = [&](int b, int64_t p, int64_t step) {
        live[b] = 0;
        results[b].state = resident || !opt.final_state ? rates_only(b, p, step) : snapshot(b, p, step);
        results[b].integrator_steps = substeps(b);
    };
    auto diverge = [&](int b, int l, int64_t at_step, const std::string& where, int64_t p, int64_t state_step) {
        report_divergence(results[b], true, l, at_step, where);
        finish(b, p, state_step);
    };
    auto any_live = [&] { return std::find(live.begin(), live.end(), 1) != live.end(); };

    int64_t p = resume ? resume->presentation : 0;
    int64_t step = resume ? resume->step : 0;
    if (!resume) {
        for (int b = 0; b < R; ++b)
            if (states[b]) observers[b]->on_begin(snapshot(b, 0, 0));
        for (int l = 0; l < L; ++l) metrics_of(l, true, false);
        for (int b = 0; b < R; ++b) observers[b]->on_record(0, 0.0, nls[b], mas[b]);
    }
    std::vector<double> fin;
    auto stop_requested = [&] {
        bool stop = false;
        for (int b = 0; b < R; ++b) stop = stop || (live[b] && observers[b]->stop_requested());
        return stop;
    };
    auto interrupted = [&] {  // Ctrl-C: every run of the batch stops at this boundary
        for (int b = 0; b < R; ++b)
            if (live[b]) {
                results[b].status = RunStatus::interrupted;
                finish(b, p, step);
            }
    };
    // Presentation p of every live run; false: none is left.
    auto presentation = [&] {
        for (int l = 0; l < L; ++l) {
            is_active[l] = sch.plastic(l, p) ? 1 : 0;
            s0[l] = sch.layer_clock(l, step);
        }
        sch.stops(step, stops);
        const bool record_at_end = sch.record_at(step + S);
        // One segment of one layer: advance, then record or end (last).
        auto segment = [&](int l, size_t seg) {
            const bool last = seg + 1 == stops.size();
            const int64_t from = seg == 0 ? 0 : stops[seg - 1];
            op(cuda::stack_op_segment, l, p, s0[l], from, stops[seg], 0, is_active[l] != 0);
            par_[l] ^= 1;
            if (!last) {
                metrics_of(l, false, false);
            } else {
                op(cuda::stack_op_end, l, p, s0[l], 0, 0, 0, is_active[l] != 0);
                const int64_t M = plan_.layers[l].modules();
                down(fin, arrays_.fin[l], size_t(R) * M);
                for (int b = 0; b < R; ++b) {
                    double acc = 0.0;
                    for (int64_t m = 0; m < M; ++m) acc += fin[size_t(b) * M + m];
                    finite[b][l] = std::isfinite(acc) ? 1 : 0;
                }
                if (record_at_end) metrics_of(l, true, true);
            }
        };
        // Inputs layer after layer (each pattern from the layer below, from
        // the weights at the presentation's start), then the first segments.
        op(cuda::stack_op_patch, 0, p);
        for (int l = 0; l < L; ++l) {
            op(cuda::stack_op_inputs, l, p, 0, 0, 0, 0, is_active[l] != 0);
            par_[l] = 0;
            if (l + 1 < L) op(cuda::stack_op_propagate, l, p);
            for (int b = 0; b < R; ++b) {
                if (!live[b] || !observers[b]->wants_inputs()) continue;
                const LayerPlan& pl = plan_.layers[l];
                const int64_t n = pl.neurons, fan = pl.fan_in;
                std::vector<T> hx;
                down(hx, arrays_.runs[b][l].x, size_t(n * fan));
                std::vector<double> rows(static_cast<size_t>(n * fan));
                for (int64_t i = 0; i < n; ++i)
                    for (int64_t j = 0; j < fan; ++j) rows[i * fan + j] = static_cast<double>(hx[j * n + i]);
                observers[b]->on_inputs(p, l, rows.data());
            }
        }
        for (int l = 0; l < L; ++l) segment(l, 0);
        auto record_inside = [&](size_t seg) {
            const int64_t at = step + stops[seg];
            for (int b = 0; b < R; ++b) {
                if (!live[b]) continue;
                if (const int bad = first_bad(rec_finite[b]); bad >= 0) {
                    diverge(b, bad, at, overflow_at(at, p), p, step);
                    continue;
                }
                observers[b]->on_record(at, sch.record_time(at), nls[b], mas[b]);
            }
            return any_live();
        };
        bool ok = true;
        for (size_t seg = 1; seg < stops.size() && ok; ++seg) {
            if (seg == 1 && !(ok = record_inside(0))) break;
            for (int l = 0; l < L; ++l) segment(l, seg);
            if (seg + 1 < stops.size()) ok = record_inside(seg);
        }
        if (!ok) return false;
        step += S;
        for (int b = 0; b < R; ++b) {
            if (!live[b]) continue;
            if (const int bad = first_bad(finite[b]); bad >= 0) {
                diverge(b, bad, step, nonfinite_during(p, step, S), p, step);
                continue;
            }
            if (sch.record_at(step)) {
                if (const int bad = first_bad(rec_finite[b]); bad >= 0) {
                    diverge(b, bad, step, overflow_at(step, p), p, step);
                    continue;
                }
                observers[b]->on_record(step, sch.record_time(step), nls[b], mas[b]);
            }
            observers[b]->on_progress(p + 1, P);
            if (opt.checkpoints && states[b] && sch.checkpoint_after(p))
                observers[b]->on_checkpoint(snapshot(b, p + 1, step));
        }
        return true;
    };
    // The one run loop (core/run_loop.hpp); the batch goes on while any of
    // its runs does, presentation by presentation.
    PresentationPolicy policy(any_live, stop_requested, interrupted, presentation);
    run_presentations(sch, p, policy);
    for (int b = 0; b < R; ++b)
        if (live[b]) finish(b, p, step);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    for (RunResult& r : results) r.seconds = seconds;  // the batch's wall time
    if (resident && results.front().status != RunStatus::diverged)
        for (int l = 0; l < L; ++l) op(cuda::stack_op_store, l, 0, 0, 0, 0, 0, true, resident->layers[l]);
    return results;
}

}  // namespace

long long stack_batch_device_bytes(const RunPlan& plan, int runs, size_t elem) {
    Arena counting;
    if (elem == 8) carve<double>(plan, runs, counting);
    else carve<float>(plan, runs, counting);
    return static_cast<long long>(counting.used());
}


RunResult run_stack_on_device(const cuda::DeviceApi& dev, bool fp64, const SimConfig& cfg, const RunPlan& plan,
                              const std::vector<std::vector<double>>& initial, RunObserver& observer,
                              const RunState* resume) {
    if (plan.layers.empty()) throw UserError("a run needs at least one layer");
    const BatchOptions all;  // checkpoints and the final state
    if (fp64) return StackRunner<double>(dev, {&cfg}, plan).run({&observer}, all, initial, resume).front();
    return StackRunner<float>(dev, {&cfg}, plan).run({&observer}, all, initial, resume).front();
}

std::vector<RunResult> run_stack_batch_on_device(const cuda::DeviceApi& dev, bool fp64,
                                                 const std::vector<const SimConfig*>& cfgs, const RunPlan& plan,
                                                 const std::vector<RunObserver*>& observers,
                                                 const BatchOptions& options) {
    if (plan.layers.empty()) throw UserError("a run needs at least one layer");
    if (cfgs.empty()) return {};
    const DevicePrecision precision = fp64 ? DevicePrecision::fp64 : DevicePrecision::fp32;
    const std::string key = batch_key(*cfgs.front(), plan, precision);
    for (const SimConfig* c : cfgs)
        if (batch_key(*c, plan, precision) != key)
            throw std::invalid_argument("run_stack_batch_on_device: the runs differ in more than per-run scalars");
    if (fp64) return StackRunner<double>(dev, cfgs, plan).run(observers, options);
    return StackRunner<float>(dev, cfgs, plan).run(observers, options);
}

RunResult run_stack_resident(const cuda::DeviceApi& dev, bool fp64, const SimConfig& cfg, const RunPlan& plan,
                             const ResidentWeights& weights, RunObserver& observer) {
    if (plan.layers.empty()) throw UserError("a run needs at least one layer");
    if (observer.wants_states())
        throw std::invalid_argument("run_resident: the observer wants states, which would copy the weights to the host");
    if (cfg.run.checkpoint_every < cfg.run.presentations)
        throw std::invalid_argument("run_resident: checkpoints would copy the weights to the host");
    BatchOptions none;
    none.checkpoints = false;
    none.final_state = false;
    if (fp64) return StackRunner<double>(dev, {&cfg}, plan).run({&observer}, none, {}, nullptr, &weights).front();
    return StackRunner<float>(dev, {&cfg}, plan).run({&observer}, none, {}, nullptr, &weights).front();
}

}  // namespace dynshare
