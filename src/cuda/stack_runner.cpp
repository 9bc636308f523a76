// Stacked plans on the CUDA backend: the host side. The loop below is the
// engine's run loop (src/core/engine.cpp, `run`) statement for statement --
// the same presentations, schedules (simultaneous, layer_by_layer with its
// frozen layers and plasticity clocks), record segments, divergence checks
// and messages, checkpoints and resume -- with the layers' state on the
// device and every per-neuron and per-module computation in the kernels of
// src/cuda/stack_kernels.cu (through DeviceApi::stack_f32/f64, so the GPU
// and the emulator share this file). What travels back per presentation:
// one double per module (state_finite) per layer, and at each record one
// triple per SNR module per layer; the weights only for checkpoints and the
// final state.
#include "cuda/stack_runner.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/step_params.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/philox.hpp"
#include "dynshare/snr.hpp"

namespace dynshare {

namespace {

constexpr int kInputsThreads = 128;  // stack_kernels.cu
constexpr size_t kAlign = 256;

void dev_check(const char* err, const char* what) {
    if (err) throw std::runtime_error(std::string("cuda backend (stacked plan): ") + what + ": " + err);
}

// One device allocation carved into the run's arrays. Counting mode (no
// device) adds up the same list that the allocation uses.
class Arena {
public:
    explicit Arena(char* base) : base_(base) {}
    template <class T>
    T* take(size_t count) {
        const size_t at = used_;
        used_ += (count * sizeof(T) + kAlign - 1) / kAlign * kAlign;
        return base_ ? reinterpret_cast<T*>(base_ + at) : nullptr;
    }
    size_t used() const { return used_; }

private:
    char* base_;
    size_t used_ = 0;
};

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

// The device arrays of every layer, carved from one arena (nullptr base:
// counting only). Layer l's pout is layer l + 1's pin.
template <class T>
std::vector<cuda::StackLayerDev<T>> carve(const RunPlan& plan, Arena& a) {
    const int L = plan.num_layers();
    std::vector<cuda::StackLayerDev<T>> out(L);
    for (int l = 0; l < L; ++l) {
        const LayerPlan& pl = plan.layers[l];
        cuda::StackLayerDev<T>& d = out[l];
        d.g = geometry_of(plan, l);
        const size_t n = pl.neurons, nk = n * pl.fan_in, M = pl.modules();
        const size_t sm = pl.snr_offsets.size() - 1;
        d.order = a.take<int64_t>(n);
        d.offsets = a.take<int64_t>(M + 1);
        d.snr_rows = a.take<int64_t>(std::max<size_t>(1, pl.snr_rows.size()));
        d.snr_offsets = a.take<int64_t>(sm + 1);
        d.module_of_cell = a.take<int64_t>(pl.module_of_cell.size());
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
        d.snr_part = a.take<double>(3 * std::max<size_t>(1, sm));
        d.snr_terms = a.take<double>(4 * std::max<size_t>(1, sm) * pl.fan_in);
        d.fin_part = a.take<double>(M);
        d.substeps = a.take<int64_t>(1);
    }
    for (int l = 0; l + 1 < L; ++l) out[l].pout = out[l + 1].pin;
    return out;
}

int64_t out_index(const LayerPlan& pl, int64_t s) { return pl.order.empty() ? s : pl.order[s]; }

std::string layer_name(int l) { return "layer " + std::to_string(l); }

cuda::RunScalars run_scalars(const SimConfig& cfg, const StepParams& sp) {
    const RngKey key = make_key(cfg.run.seed, cfg.run.stream);
    cuda::RunScalars s;
    s.key0 = key.k0;
    s.key1 = key.k1;
    s.dt = sp.dt;
    s.tau = sp.ei.tau;
    s.alpha = sp.ei.alpha;
    s.bias = sp.ei.bias;
    s.mu = sp.mu;
    s.gamma = sp.gamma;
    s.lr = sp.schedule.lr;
    s.t0 = sp.schedule.t0;
    s.sched_kind = sp.schedule.kind;
    s.plastic = sp.plastic ? 1 : 0;
    s.delay = sp.schedule.delay;
    s.macro_step = sp.macro_step;
    s.kappa_scale = sp.kappa_scale;
    s.noise_std = cfg.input.noise_std;
    return s;
}

const char* launch(const cuda::DeviceApi& dev, const cuda::StackLaunch<float>& a) { return dev.stack_f32(a); }
const char* launch(const cuda::DeviceApi& dev, const cuda::StackLaunch<double>& a) { return dev.stack_f64(a); }

template <class T>
class StackRunner {
public:
    StackRunner(const cuda::DeviceApi& dev, const SimConfig& cfg, const RunPlan& plan)
        : dev_(dev), cfg_(cfg), plan_(plan), L_(plan.num_layers()) {}
    ~StackRunner() {
        if (base_) dev_.release(base_);
    }
    StackRunner(const StackRunner&) = delete;
    StackRunner& operator=(const StackRunner&) = delete;

    // `resident`: the weights are on the device already (run_stack_resident);
    // `initial` is then empty and no state is copied to the host.
    RunResult run(const std::vector<std::vector<double>>& initial, RunObserver& observer, const RunState* resume,
                  const ResidentWeights* resident = nullptr);

private:
    template <class V>
    void up(V* dst, const std::vector<V>& src) {
        if (!src.empty()) dev_check(dev_.to_device(dst, src.data(), src.size() * sizeof(V)), "copy to device");
    }
    template <class V>
    void down(std::vector<V>& dst, const V* src, size_t count) {
        dst.resize(count);
        if (count) dev_check(dev_.to_host(dst.data(), src, count * sizeof(V)), "copy from device");
    }
    void op(int which, int l, int64_t p = 0, int64_t s0 = 0, int64_t j_from = 0, int64_t j_to = 0,
            int materialized = 0, bool active = true, float* ext = nullptr) {
        cuda::StackLaunch<T> a;
        a.ext = ext;
        a.op = which;
        a.layer = layers_[l];
        a.sc = active ? scalars_[l] : frozen_[l];
        a.p = p;
        a.s0 = s0;
        a.j_from = j_from;
        a.j_to = j_to;
        a.par = par_[l];
        a.materialized = materialized;
        dev_check(launch(dev_, a), "a stacked-plan kernel");
    }
    void init(const std::vector<std::vector<double>>& initial, const RunState* resume,
              const ResidentWeights* resident);
    RunState snapshot(int64_t p, int64_t step);
    // The final state without the weights (they stay on the device): r, r_inh.
    RunState rates_only(int64_t p, int64_t step);
    // module_snr of layer l from the device's per-module sums (the CPU's
    // module average, in the CPU's order).
    LayerSnr metrics(int l, bool materialized);

    const cuda::DeviceApi& dev_;
    const SimConfig& cfg_;
    const RunPlan& plan_;
    const int L_;
    void* base_ = nullptr;
    std::vector<cuda::StackLayerDev<T>> layers_;
    std::vector<cuda::StackScalars> scalars_, frozen_;
    std::vector<int> par_;
    std::vector<std::vector<double>> w0_;  // per layer, output order, as the device holds it (T-rounded)
};

template <class T>
void StackRunner<T>::init(const std::vector<std::vector<double>>& initial, const RunState* resume,
                          const ResidentWeights* resident) {
    // As the engine's init_blocks: the same checks and messages.
    if (resident && static_cast<int>(resident->layers.size()) != L_)
        throw UserError("resident weights: " + std::to_string(resident->layers.size()) + " layers given for a plan of " +
                        std::to_string(L_));
    std::vector<std::vector<double>> drawn;
    if (!resume && !resident && initial.empty()) drawn = initial_weights(cfg_, plan_);
    const auto& w_init = initial.empty() ? drawn : initial;
    if (!resume && !resident && static_cast<int>(w_init.size()) != L_)
        throw UserError("initial weights: " + std::to_string(w_init.size()) + " layers given for a plan of " +
                        std::to_string(L_));
    if (resume && static_cast<int>(resume->layers.size()) != L_)
        throw UserError("checkpoint holds " + std::to_string(resume->layers.size()) + " layers; the config has " +
                        std::to_string(L_));
    for (int l = 0; l < L_; ++l) {
        const LayerPlan& pl = plan_.layers[l];
        const int64_t n = pl.neurons, k = pl.fan_in;
        if (resume) {
            const LayerState& s = resume->layers[l];
            if (s.w.size() != size_t(n * k) || s.w0.size() != size_t(n * k) || s.v.size() != size_t(n * k) ||
                s.r.size() != size_t(n) || s.r_inh.size() != size_t(pl.modules()))
                throw UserError("checkpoint of " + layer_name(l) + " does not match the config's geometry");
        } else if (resident) {
            if (!resident->layers[l]) throw UserError("resident weights of " + layer_name(l) + ": null pointer");
        } else if (w_init[l].size() != size_t(n * k)) {
            throw UserError("initial weights of " + layer_name(l) + ": expected " + std::to_string(n * k) +
                            " values, got " + std::to_string(w_init[l].size()));
        }
    }

    Arena counting(nullptr);
    carve<T>(plan_, counting);
    dev_check(dev_.alloc(&base_, counting.used()), "cudaMalloc");
    Arena arena(static_cast<char*>(base_));
    layers_ = carve<T>(plan_, arena);

    const StepParams sp = StepParams::from(cfg_);
    StepParams sp_frozen = sp;
    sp_frozen.plastic = false;
    const int method = stack_method_of(cfg_);
    scalars_.resize(L_);
    frozen_.resize(L_);
    par_.assign(L_, 0);
    w0_.resize(L_);
    for (int l = 0; l < L_; ++l) {
        const LayerPlan& pl = plan_.layers[l];
        for (cuda::StackScalars* s : {&scalars_[l], &frozen_[l]}) {
            s->run = run_scalars(cfg_, s == &scalars_[l] ? StepParams::from(cfg_, pl.fan_in) : sp_frozen);
            s->drive = plan_.drive;
            s->normalize = plan_.normalize ? 1 : 0;
            s->periodic = plan_.periodic_border ? 1 : 0;
            s->pattern_period = plan_.pattern_period;
            s->method = method;
        }
        const cuda::StackLayerDev<T>& d = layers_[l];
        const int64_t n = pl.neurons, k = pl.fan_in;
        up(const_cast<int64_t*>(d.order), pl.order);
        up(const_cast<int64_t*>(d.offsets), pl.module_offsets);
        up(const_cast<int64_t*>(d.snr_rows), pl.snr_rows);
        up(const_cast<int64_t*>(d.snr_offsets), pl.snr_offsets);
        up(const_cast<int64_t*>(d.module_of_cell), pl.module_of_cell);
        if (resident) {
            // block_from_state on the device: w = w0 = the caller's weights, v = 0.
            up(d.r, std::vector<T>(size_t(n), static_cast<T>(cfg_.dynamics.bias)));
            up(d.r_inh, std::vector<T>(size_t(pl.modules()), T(0)));
            up(d.substeps, std::vector<int64_t>{0});
            up(d.shared, std::vector<double>{1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0});
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
            rates.assign(n, cfg_.dynamics.bias);
            inh.assign(pl.modules(), 0.0);
        }
        std::vector<T> hw(n * k), hw0(n * k), hv(n * k), hr(n), hq(pl.modules());
        w0_[l].assign(n * k, 0.0);
        for (int64_t i = 0; i < n; ++i) {
            const int64_t src = out_index(pl, i);
            for (int64_t j = 0; j < k; ++j) {
                hw[j * n + i] = static_cast<T>((*w)[src * k + j]);
                hw0[j * n + i] = static_cast<T>((*w0)[src * k + j]);
                hv[j * n + i] = static_cast<T>((*v)[src * k + j]);
                w0_[l][src * k + j] = static_cast<double>(hw0[j * n + i]);
            }
            hr[i] = static_cast<T>(rates[src]);
        }
        for (int64_t m = 0; m < pl.modules(); ++m) hq[m] = static_cast<T>(inh[m]);
        up(d.w, hw);
        up(d.w0, hw0);
        up(d.v, hv);
        up(d.r, hr);
        up(d.r_inh, hq);
        up(d.substeps, std::vector<int64_t>{0});
        up(d.shared, std::vector<double>{1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0});
    }
}

template <class T>
RunState StackRunner<T>::snapshot(int64_t p, int64_t step) {
    // The engine's state_from_block: block order (K x n) -> output order.
    RunState st;
    st.presentation = p;
    st.step = step;
    std::vector<T> hw, hv, hr, hq;
    for (int l = 0; l < L_; ++l) {
        const LayerPlan& pl = plan_.layers[l];
        const cuda::StackLayerDev<T>& d = layers_[l];
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
        s.w0 = w0_[l];
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
RunState StackRunner<T>::rates_only(int64_t p, int64_t step) {
    RunState st;
    st.presentation = p;
    st.step = step;
    std::vector<T> hr, hq;
    for (int l = 0; l < L_; ++l) {
        const LayerPlan& pl = plan_.layers[l];
        down(hr, layers_[l].r, pl.neurons);
        down(hq, layers_[l].r_inh, pl.modules());
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
LayerSnr StackRunner<T>::metrics(int l, bool materialized) {
    const LayerPlan& pl = plan_.layers[l];
    const int64_t modules = static_cast<int64_t>(pl.snr_offsets.size()) - 1;
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    if (modules <= 0 || pl.fan_in <= 0) return {nan, nan};
    op(cuda::stack_op_snr, l, 0, 0, 0, 0, materialized ? 1 : 0);
    std::vector<double> part;
    down(part, layers_[l].snr_part, 3 * size_t(modules));
    // module_averages (src/core/snr.cpp): the same sums, the same order.
    double snr_total = 0.0, mas_total = 0.0;
    bool finite = true;
    const double k = static_cast<double>(pl.fan_in);
    for (int64_t m = 0; m < modules; ++m) {
        finite = finite && part[3 * m + 2] != 0.0;
        snr_total += part[3 * m] / k;
        mas_total += part[3 * m + 1] / k;
    }
    const double md = static_cast<double>(modules);
    return {-std::log(snr_total / md), mas_total / md, finite};
}

template <class T>
RunResult StackRunner<T>::run(const std::vector<std::vector<double>>& initial, RunObserver& observer,
                              const RunState* resume, const ResidentWeights* resident) {
    init(initial, resume, resident);
    // As the engine: an observer that wants no states gets no on_begin and no
    // checkpoint copies (RunObserver::wants_states).
    const bool states = observer.wants_states();
    const int L = L_;
    const StepParams sp = StepParams::from(cfg_);
    const bool by_layer = plan_.schedule == LayerSchedule::layer_by_layer;
    const int64_t S = sp.steps, P = cfg_.run.presentations, R = cfg_.run.record_every;
    const double dt_record = sp.dt;
    auto active_layer = [&](int64_t p) { return static_cast<int>(std::min<int64_t>(L - 1, (p * L) / P)); };
    auto first_presentation = [&](int l) { return (int64_t(l) * P + L - 1) / L; };

    RunResult result;
    result.layer_seconds.assign(L, 0.0);
    result.pattern_seconds.assign(L, 0.0);
    std::vector<double> nls(L), mas(L);
    std::vector<char> rec_finite(L, 1), finite(L, 1), is_active(L, 1);
    std::vector<int64_t> s0(L, 0), stops;

    auto metrics_of = [&](int l, bool materialized) {
        const LayerSnr m = metrics(l, materialized);
        nls[l] = m.neg_log_snr;
        mas[l] = m.mean_abs_over_std;
        rec_finite[l] = m.finite ? 1 : 0;
    };
    auto first_bad = [&](const std::vector<char>& ok) {
        for (int l = 0; l < L; ++l)
            if (!ok[l]) return l;
        return -1;
    };
    auto diverge = [&](int l, int64_t at_step, const std::string& where) {
        result.status = RunStatus::diverged;
        result.diverged_at_step = at_step;
        result.message = "layer " + std::to_string(l) + ": " + where + "; reduce plasticity.lr or dynamics.dt";
    };

    int64_t p = resume ? resume->presentation : 0;
    int64_t step = resume ? resume->step : 0;
    if (!resume) {
        if (states) observer.on_begin(snapshot(0, 0));
        for (int l = 0; l < L; ++l) metrics_of(l, true);
        observer.on_record(0, 0.0, nls, mas);
    }
    std::vector<double> fin;
    for (; p < P; ++p) {
        if (observer.stop_requested()) {
            result.status = RunStatus::interrupted;
            break;
        }
        const int act = by_layer ? active_layer(p) : -1;
        for (int l = 0; l < L; ++l) {
            is_active[l] = !(by_layer && l != act);
            s0[l] = by_layer ? std::max<int64_t>(0, step - S * first_presentation(l)) : step;
        }
        stops.clear();
        for (int64_t j = R - (step % R); j < S; j += R) stops.push_back(j);
        stops.push_back(S);
        const bool record_at_end = (step + S) % R == 0;
        // One segment of one layer: advance, then record or end (last).
        auto segment = [&](int l, size_t seg) {
            const bool last = seg + 1 == stops.size();
            const int64_t from = seg == 0 ? 0 : stops[seg - 1];
            op(cuda::stack_op_segment, l, p, s0[l], from, stops[seg], 0, is_active[l] != 0);
            par_[l] ^= 1;
            if (!last) {
                metrics_of(l, false);
            } else {
                op(cuda::stack_op_end, l, p, s0[l], 0, 0, 0, is_active[l] != 0);
                down(fin, layers_[l].fin_part, plan_.layers[l].modules());
                double acc = 0.0;
                for (double f : fin) acc += f;
                finite[l] = std::isfinite(acc) ? 1 : 0;
                if (record_at_end && finite[l]) metrics_of(l, true);
            }
        };
        // Inputs layer after layer (each pattern from the layer below, from
        // the weights at the presentation's start), then the first segments.
        op(cuda::stack_op_patch, 0, p);
        for (int l = 0; l < L; ++l) {
            op(cuda::stack_op_inputs, l, p, 0, 0, 0, 0, is_active[l] != 0);
            par_[l] = 0;
            if (l + 1 < L) op(cuda::stack_op_propagate, l, p);
            if (observer.wants_inputs()) {
                const LayerPlan& pl = plan_.layers[l];
                const int64_t n = pl.neurons, fan = pl.fan_in;
                std::vector<T> hx;
                down(hx, layers_[l].x, size_t(n * fan));
                std::vector<double> rows(static_cast<size_t>(n * fan));
                for (int64_t i = 0; i < n; ++i)
                    for (int64_t j = 0; j < fan; ++j) rows[i * fan + j] = static_cast<double>(hx[j * n + i]);
                observer.on_inputs(p, l, rows.data());
            }
        }
        for (int l = 0; l < L; ++l) segment(l, 0);
        auto record_inside = [&](size_t seg) {
            const int bad = first_bad(rec_finite);
            if (bad >= 0) {
                diverge(bad, step + stops[seg], "the weights overflowed at step " + std::to_string(step + stops[seg]) +
                                                    " (presentation " + std::to_string(p) +
                                                    "; -log SNR_w cannot be computed there)");
                return false;
            }
            observer.on_record(step + stops[seg], static_cast<double>(step + stops[seg]) * dt_record, nls, mas);
            return true;
        };
        bool ok = true;
        for (size_t seg = 1; seg < stops.size() && ok; ++seg) {
            if (seg == 1 && !(ok = record_inside(0))) break;
            for (int l = 0; l < L; ++l) segment(l, seg);
            if (seg + 1 < stops.size()) ok = record_inside(seg);
        }
        if (!ok) break;
        step += S;
        if (const int bad = first_bad(finite); bad >= 0) {
            diverge(bad, step, "rates or weights became non-finite during presentation " + std::to_string(p) +
                                   " (steps " + std::to_string(step - S) + " to " + std::to_string(step) + ")");
            break;
        }
        if (step % R == 0) {
            if (const int bad = first_bad(rec_finite); bad >= 0) {
                diverge(bad, step, "the weights overflowed at step " + std::to_string(step) + " (presentation " +
                                       std::to_string(p) + "; -log SNR_w cannot be computed there)");
                break;
            }
            observer.on_record(step, static_cast<double>(step) * dt_record, nls, mas);
        }
        observer.on_progress(p + 1, P);
        if (states && (p + 1) % cfg_.run.checkpoint_every == 0 && p + 1 < P)
            observer.on_checkpoint(snapshot(p + 1, step));
    }
    if (resident) {
        for (int l = 0; l < L; ++l) op(cuda::stack_op_store, l, 0, 0, 0, 0, 0, true, resident->layers[l]);
        result.state = rates_only(p, step);
    } else {
        result.state = snapshot(p, step);
    }
    std::vector<int64_t> subs;
    for (int l = 0; l < L; ++l) {
        down(subs, layers_[l].substeps, 1);
        result.integrator_steps += subs[0];
    }
    return result;
}

}  // namespace

int stack_method_of(const SimConfig& cfg) {
    if (cfg.model == ModelKind::ideal)
        throw UserError("--backend cuda: model = ideal with stacked layers (stack.*) is not implemented on the GPU "
                        "(it runs ei_rate stacks with dynamics.integrator euler or exponential); use --backend cpu");
    const bool continuous = cfg.effective_form() == PlasticityForm::continuous;
    if (cfg.dynamics.integrator == Integrator::euler && !continuous) return cuda::method_euler;
    if (cfg.dynamics.integrator == Integrator::exponential) return cuda::method_exponential;
    throw UserError(std::string("--backend cuda: dynamics.integrator = ") + to_string(cfg.dynamics.integrator) +
                    " with plasticity.form = " + to_string(cfg.effective_form()) +
                    " is not implemented on the GPU for stacked layers (stack.*: it runs euler with the discrete "
                    "form and exponential); use --backend cpu");
}

long long stack_device_bytes(const SimConfig&, const RunPlan& plan, size_t elem) {
    Arena counting(nullptr);
    if (elem == 8) carve<double>(plan, counting);
    else carve<float>(plan, counting);
    return static_cast<long long>(counting.used());
}

void stack_check(const cuda::DeviceApi& dev, const SimConfig& cfg, const RunPlan& plan, size_t elem) {
    stack_method_of(cfg);
    const long long need = stack_device_bytes(cfg, plan, elem);
    size_t free_b = 0, total_b = 0;
    dev_check(dev.mem_info(&free_b, &total_b), "cudaMemGetInfo");
    if (static_cast<unsigned long long>(need) > free_b)
        throw UserError("--backend cuda: the stacked config (stack.*, " + std::to_string(plan.num_layers()) +
                        " layers, " + (elem == 8 ? "fp64" : "fp32") + ") needs " + std::to_string(need) +
                        " bytes of device memory; " + std::to_string(free_b) + " bytes are available (of " +
                        std::to_string(total_b) + "); use --backend cpu, fewer or smaller layers" +
                        (elem == 8 ? ", or run.precision fp32" : ""));
}

RunResult run_stack_on_device(const cuda::DeviceApi& dev, bool fp64, const SimConfig& cfg, const RunPlan& plan,
                              const std::vector<std::vector<double>>& initial, RunObserver& observer,
                              const RunState* resume) {
    if (plan.layers.empty()) throw UserError("a run needs at least one layer");
    if (fp64) return StackRunner<double>(dev, cfg, plan).run(initial, observer, resume);
    return StackRunner<float>(dev, cfg, plan).run(initial, observer, resume);
}

RunResult run_stack_resident(const cuda::DeviceApi& dev, bool fp64, const SimConfig& cfg, const RunPlan& plan,
                             const ResidentWeights& weights, RunObserver& observer) {
    if (plan.layers.empty()) throw UserError("a run needs at least one layer");
    if (observer.wants_states())
        throw std::invalid_argument("run_resident: the observer wants states, which would copy the weights to the host");
    if (cfg.run.checkpoint_every < cfg.run.presentations)
        throw std::invalid_argument("run_resident: checkpoints would copy the weights to the host");
    if (fp64) return StackRunner<double>(dev, cfg, plan).run({}, observer, nullptr, &weights);
    return StackRunner<float>(dev, cfg, plan).run({}, observer, nullptr, &weights);
}

}  // namespace dynshare
