// SPDX-License-Identifier: BSD-3-Clause
// The one run loop, for every plan: presentations, records (-log SNR_w and
// |mean|/std per layer), checkpoints, interrupts, divergence and resume.
// Each layer is a LayerBlock integrated by its own PresentationIntegrator;
// the layers of one presentation run in parallel (OpenMP tasks), and the
// results do not depend on the number of threads.
#include "dynshare/engine.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>
#include <type_traits>

#include "core/block.hpp"
#include "core/block_plan.hpp"
#include "core/first_touch.hpp"
#include "core/input_source.hpp"
#include "core/inputs.hpp"
#include "core/layer_block.hpp"
#include "core/presentation.hpp"
#include "core/run_loop.hpp"
#include "core/run_report.hpp"
#include "core/run_schedule.hpp"
#include "core/sleep_profile.hpp"
#include "core/step_params.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/snr.hpp"

namespace dynshare {

namespace {

int64_t out_index(const LayerPlan& pl, int64_t s) { return pl.order.empty() ? s : pl.order[s]; }

// Output order (RunState) <-> the block's module order.
template <class T>
void block_from_state(const LayerPlan& pl, const LayerState& s, LayerBlock<T>& b) {
    const int64_t n = b.n, k = b.k;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t src = out_index(pl, i);
        std::copy_n(&s.w[src * k], k, &b.w[i * k]);
        std::copy_n(&s.w0[src * k], k, &b.w0[i * k]);
        std::copy_n(&s.v[src * k], k, &b.v[i * k]);
        b.r[i] = static_cast<T>(s.r[src]);
    }
    std::copy(s.r_inh.begin(), s.r_inh.end(), b.r_inh.begin());
}

// weights_only: w, r and r_inh (w0 and v left empty), for observers that
// take no states (RunObserver::wants_states).
template <class T>
LayerState state_from_block(const LayerPlan& pl, const LayerBlock<T>& b, bool weights_only) {
    LayerState s;
    const int64_t n = b.n, k = b.k;
    s.n = n;
    s.k = k;
    // Every element is written by the copy below: the zero fill is the
    // pages' first touch, taken by all threads (core/first_touch.hpp).
    assign_populated(s.w, static_cast<size_t>(n * k), 0.0);
    if (!weights_only) {
        assign_populated(s.w0, static_cast<size_t>(n * k), 0.0);
        assign_populated(s.v, static_cast<size_t>(n * k), 0.0);
    }
    s.r.resize(n);
    // Rows to distinct places (out_index is a permutation): a parallel copy.
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && n * k >= (int64_t(1) << 18))
    for (int64_t i = 0; i < n; ++i) {
        const int64_t dst = out_index(pl, i);
        std::copy_n(&b.w[i * k], k, &s.w[dst * k]);
        if (!weights_only) {
            std::copy_n(&b.w0[i * k], k, &s.w0[dst * k]);
            std::copy_n(&b.v[i * k], k, &s.v[dst * k]);
        }
        s.r[dst] = static_cast<double>(b.r[i]);
    }
    s.r_inh.assign(b.r_inh.begin(), b.r_inh.end());
    return s;
}

template <class T>
RunState snapshot(const RunPlan& plan, const std::vector<LayerBlock<T>>& blocks, int64_t p, int64_t step,
                  bool weights_only = false) {
    RunState st;
    st.presentation = p;
    st.step = step;
    for (size_t l = 0; l < blocks.size(); ++l)
        st.layers.push_back(state_from_block(plan.layers[l], blocks[l], weights_only));
    return st;
}

// The final weights without state copies (RunObserver::wants_states false:
// the trainer's and the benchmark's sleep phases): each layer's w in output
// order. This is the blocks' last use, so in fp64 w0's storage, no longer
// needed, receives them: no fresh allocation, hence no first touch of 8
// bytes per weight in a fresh process (docs/sleep_speed.md), and v is
// released first. The values are those of snapshot(..., true).
template <class T>
RunState final_weights(const RunPlan& plan, std::vector<LayerBlock<T>>& blocks, int64_t p, int64_t step) {
    if constexpr (!std::is_same_v<T, double>) {
        return snapshot(plan, blocks, p, step, true);
    } else {
        RunState st;
        st.presentation = p;
        st.step = step;
        for (size_t l = 0; l < blocks.size(); ++l) {
            const LayerPlan& pl = plan.layers[l];
            LayerBlock<double>& b = blocks[l];
            const int64_t n = b.n, k = b.k;
            if (b.w0.size() != b.w.size()) {  // (never: w0 is sized with w)
                st.layers.push_back(state_from_block(pl, b, true));
                continue;
            }
            ZeroVector<double>().swap(b.v);
            LayerState s;
            s.n = n;
            s.k = k;
            s.w = std::move(b.w0);
            s.r.resize(n);
            const double* w = b.w.data();
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && n * k >= (int64_t(1) << 18))
            for (int64_t i = 0; i < n; ++i) {
                const int64_t dst = out_index(pl, i);
                std::copy_n(w + i * k, k, &s.w[dst * k]);
                s.r[dst] = b.r[i];
            }
            std::vector<double>().swap(b.w);
            s.r_inh.assign(b.r_inh.begin(), b.r_inh.end());
            st.layers.push_back(std::move(s));
        }
        return st;
    }
}

template <class T>
void init_blocks(const SimConfig& cfg, const RunPlan& plan, const std::vector<std::vector<double>>& initial,
                 const RunState* resume, std::vector<LayerBlock<T>>& blocks) {
    const int L = plan.num_layers();
    check_run_start(plan, initial, resume);  // the layer counts and sizes (core/run_report.hpp)
    blocks.resize(L);
    std::vector<std::vector<double>> drawn;
    if (!resume && initial.empty()) drawn = initial_weights(cfg, plan);
    const auto& w_init = initial.empty() ? drawn : initial;
    for (int l = 0; l < L; ++l) {
        const LayerPlan& pl = plan.layers[l];
        const int64_t n = pl.neurons, k = pl.fan_in;
        // v is written in the discrete form (momentum) and by a resume's copy;
        // in the continuous form it stays zero and its pages unfaulted.
        const bool written_v = resume != nullptr || cfg.effective_form() == PlasticityForm::discrete;
        blocks[l].resize(n, k, pl.module_offsets, cfg.dynamics.bias, /*zero_weights=*/resume != nullptr, written_v);
        if (resume) {
            block_from_state(pl, resume->layers[l], blocks[l]);
        } else {
            // Straight into the block (resize() set v = 0, r = bias, r_inh = 0
            // and left w, w0 empty): one pass writes w, one copy makes w0. In a
            // training sleep phase these copies were a serial sixth of the run.
            LayerBlock<T>& blk = blocks[l];
            const std::vector<double>& w = w_init[l];
            reserve_populated(blk.w, static_cast<size_t>(n * k));
            for (int64_t i = 0; i < n; ++i) {
                const double* src = &w[out_index(pl, i) * k];
                blk.w.insert(blk.w.end(), src, src + k);
            }
            reserve_populated(blk.w0, blk.w.size());
            blk.w0.assign(blk.w.begin(), blk.w.end());
        }
    }
}

// One run of a plan through the run loop (run_presentations,
// core/run_loop.hpp), whose policy it is: the set-up, then presentation
// after presentation (a block of them or one alone), each step a named
// method. When things happen is RunSchedule's (core/run_schedule.hpp), what
// is said RunReport's (core/run_report.hpp).
template <class T>
class EngineRun {
public:
    EngineRun(const SimConfig& cfg, const RunPlan& plan, const std::vector<std::vector<double>>& initial,
              RunObserver& observer, const RunState* resume);
    RunResult run();

    // Its policy for the run loop (core/run_loop.hpp).
    bool live() const { return true; }
    bool stop_requested() { return observer_.stop_requested(); }
    void interrupted() { result_.status = RunStatus::interrupted; }
    bool blocked() const { return !blocked_.empty(); }
    bool block_of_presentations(int64_t nb);  // below, with the blocked presentations
    bool presentation_alone();                // below, with a presentation alone

private:
    void make_integrators();
    void setup_blocked();
    void begin();
    // Records and divergence.
    void metrics_of(int l, const T* w);
    void metrics_of_every_layer();
    int first_bad(const std::vector<char>& ok) const;
    void diverge(int l, int64_t at_step, const std::string& where) {
        report_divergence(result_, plan_.kind == PlanKind::stack, l, at_step, where);
    }
    bool record(int64_t at);  // a record at step `at` of presentation p_, unless its sums overflowed
    // Blocked presentations.
    void flush_blocks();
    void take_inputs(int l, int64_t q);
    std::pair<int64_t, int> run_block(int64_t p0, int64_t step0, int64_t nb);
    // A presentation alone.
    void inputs_of(int l);
    void segment(int l, size_t seg);
    RunResult finish();

    const SimConfig& cfg_;
    const RunPlan& plan_;
    RunObserver& observer_;
    const RunState* resume_;
    const double t_start_;
    const int L_;
    const StepParams sp_;
    const RunSchedule sch_;
    const bool by_layer_;
    const int64_t S_, P_;
    std::vector<LayerBlock<T>> blocks_;
    std::vector<int> sched_;  // largest layers first, so the dynamic schedule balances the threads
    std::vector<PresentationIntegrator<T>> active_, frozen_;
    bool par_ = false;
    std::unique_ptr<InputSource<T>> source_;
    RunResult result_;
    std::vector<double> nls_, mas_;
    std::vector<char> rec_finite_;  // the last record of each layer could be computed
    std::vector<std::vector<T>> w_now_;
    std::vector<char> finite_;
    std::vector<PresentationIntegrator<T>*> integ_;
    std::vector<char> tokens_;
    std::vector<int64_t> s0_, stops_;
    bool record_at_end_ = false;
    std::vector<BlockedLayer<T>> blocked_;
    std::vector<T> zbuf_;
    std::vector<int64_t> bad_q_;
    int64_t p_ = 0, step_ = 0;
    bool states_ = true;
};

template <class T>
EngineRun<T>::EngineRun(const SimConfig& cfg, const RunPlan& plan, const std::vector<std::vector<double>>& initial,
                        RunObserver& observer, const RunState* resume)
    : cfg_(cfg),
      plan_(plan),
      observer_(observer),
      resume_(resume),
      t_start_(omp_get_wtime()),
      L_(plan.num_layers()),
      sp_(StepParams::from(cfg)),
      sch_(RunSchedule::from(cfg, plan)),
      by_layer_(sch_.by_layer()),
      S_(sch_.steps()),
      P_(sch_.presentations()) {
    init_blocks(cfg, plan, initial, resume, blocks_);
    sched_.resize(L_);
    std::iota(sched_.begin(), sched_.end(), 0);
    std::stable_sort(sched_.begin(), sched_.end(),
                     [&](int a, int b) { return plan.layers[a].weight_count() > plan.layers[b].weight_count(); });
    make_integrators();
    // Threads only pay when a presentation has enough work: each parallel
    // region costs a barrier, which on a busy machine can take a time slice.
    int64_t work = 0;
    for (const auto& pl : plan.layers) work += pl.weight_count() + pl.neurons * S_;
    par_ = work >= (int64_t(1) << 18);
    source_ = make_input_source<T>(cfg, plan);
    result_.layer_seconds.assign(L_, 0.0);
    result_.pattern_seconds.assign(L_, 0.0);
    nls_.assign(L_, 0.0);
    mas_.assign(L_, 0.0);
    rec_finite_.assign(L_, 1);
    w_now_.resize(L_);
    finite_.assign(L_, 1);
    integ_.assign(L_, nullptr);
    tokens_.assign(L_ + 1, 0);
    s0_.assign(L_, 0);
    setup_blocked();
    bad_q_.assign(L_, 0);
    p_ = resume ? resume->presentation : 0;
    step_ = resume ? resume->step : 0;
    states_ = observer.wants_states();  // false: no state copies (run_observer.hpp)
    profile_add(SleepPhase::set_up, omp_get_wtime() - t_start_);
}

template <class T>
void EngineRun<T>::make_integrators() {
    active_.reserve(L_);
    // Per layer: plasticity.lr_scaling = fan_in divides each layer's rate by its own fan-in.
    for (int l = 0; l < L_; ++l) active_.emplace_back(StepParams::for_layer(cfg_, plan_.layers[l].fan_in, true));
    if (by_layer_) {
        frozen_.reserve(L_);
        for (int l = 0; l < L_; ++l) frozen_.emplace_back(StepParams::for_layer(cfg_, plan_.layers[l].fan_in, false));
    }
}

// Blocked presentations (dynamics.block, core/block.hpp): where blocks start
// and end is RunSchedule::block_length's. All presentations of a plan whose
// inputs differ per neuron run alone.
template <class T>
void EngineRun<T>::setup_blocked() {
    const int64_t block = sch_.block();
    if (!(block > 1 && cfg_.model == ModelKind::ei_rate && !observer_.wants_inputs())) return;
    // run_block takes the layers one after another (start, presentations,
    // end): one set of drives serves them all (core/block_plan.hpp).
    setup_blocked_layers(plan_, *source_, block, !sp_.continuous, blocked_);
}

template <class T>
void EngineRun<T>::metrics_of(int l, const T* w) {
    const LayerPlan& pl = plan_.layers[l];
    // |mean| / std is stored for stacks; the one-layer layout keeps -log SNR_w only.
    const LayerSnr m = module_snr(w, pl.fan_in, pl.snr_rows.data(), pl.snr_offsets.data(),
                                  static_cast<int64_t>(pl.snr_offsets.size()) - 1, plan_.kind == PlanKind::stack);
    nls_[l] = m.neg_log_snr;
    mas_[l] = m.mean_abs_over_std;
    rec_finite_[l] = m.finite ? 1 : 0;
}

template <class T>
void EngineRun<T>::metrics_of_every_layer() {
#pragma omp parallel for schedule(dynamic, 1) if (par_)
    for (int i = 0; i < L_; ++i) metrics_of(sched_[i], blocks_[sched_[i]].w.data());
}

// Divergence: the state (rates, plasticity coordinates) or a record's sums
// became non-finite. The run stops there; no record of a diverged state is
// emitted, so the file's records end at the last finite state.
template <class T>
int EngineRun<T>::first_bad(const std::vector<char>& ok) const {
    for (int l = 0; l < L_; ++l)
        if (!ok[l]) return l;
    return -1;
}

template <class T>
bool EngineRun<T>::record(int64_t at) {
    if (const int bad = first_bad(rec_finite_); bad >= 0) {
        diverge(bad, at, overflow_at(at, p_));
        return false;
    }
    observer_.on_record(at, sch_.record_time(at), nls_, mas_);
    return true;
}

template <class T>
void EngineRun<T>::begin() {
    if (states_) observer_.on_begin(snapshot(plan_, blocks_, 0, 0));
    metrics_of_every_layer();
    observer_.on_record(0, 0.0, nls_, mas_);
}

// A block's end (its weights' materialisation) is deferred to the next
// block's start, where it shares the pass over the weights: until then
// blocks_[l].w is stale. Everything else that reads the weights (records,
// checkpoints, a presentation alone, the result) flushes first.
template <class T>
void EngineRun<T>::flush_blocks() {
    for (int l = 0; l < static_cast<int>(blocked_.size()); ++l) {
        const double t0 = omp_get_wtime();
        blocked_[l].finish(blocks_[l]);
        result_.layer_seconds[l] += omp_get_wtime() - t0;
    }
}

template <class T>
void EngineRun<T>::take_inputs(int l, int64_t q) {
    BlockedLayer<T>& bl = blocked_[l];
    const int64_t fan = plan_.layers[l].fan_in;
    for (int64_t g = 0; g < bl.groups().groups(); ++g) std::copy_n(source_->group_row(l, g), fan, bl.input(g, q));
}

// Presentations [p0, p0 + nb) as one block, layer after layer: layer l's
// drives at each presentation's start give layer l + 1's patterns. Returns
// the first presentation (offset) and layer that became non-finite.
template <class T>
std::pair<int64_t, int> EngineRun<T>::run_block(int64_t p0, int64_t step0, int64_t nb) {
    {
        const double t0 = omp_get_wtime();
        for (int64_t q = 0; q < nb; ++q) {
            source_->begin_presentation(p0 + q);
            source_->block_inputs(p0 + q, 0);
            take_inputs(0, q);
        }
        result_.pattern_seconds[0] += omp_get_wtime() - t0;
        profile_add(SleepPhase::patterns, omp_get_wtime() - t0);
    }
    for (int l = 0; l < L_; ++l) {
        const double t0 = omp_get_wtime();
        double tp = 0.0;
        PresentationIntegrator<T>& it = sch_.plastic(l, p0) ? active_[l] : frozen_[l];
        BlockedLayer<T>& bl = blocked_[l];
        bl.start(blocks_[l], nb);
        zbuf_.resize(static_cast<size_t>(blocks_[l].n));
        bad_q_[l] = nb;
        for (int64_t q = 0; q < nb; ++q) {
            const int64_t s0l = sch_.layer_clock(l, step0 + q * S_);
            // Layer l + 1's inputs for presentation q need only its drives
            // at the start (zbuf_): they are built on one thread while the
            // others integrate the presentation (a serial pass otherwise).
            std::function<void()> next_inputs;
            if (l + 1 < L_)
                next_inputs = [&, q] {
                    const double t1 = omp_get_wtime();
                    source_->block_drives(p0 + q, l, zbuf_.data());
                    source_->block_inputs(p0 + q, l + 1);
                    take_inputs(l + 1, q);
                    tp += omp_get_wtime() - t1;
                };
            bl.presentation(q, it, blocks_[l], s0l, S_, zbuf_.data(), next_inputs);
            if (bad_q_[l] == nb && !(it.state_finite() && bl.coefficients_finite())) bad_q_[l] = q;
        }
        bl.end_block();  // materialised by the next block's start, or by flush_blocks
        // The next layer's input building overlapped this layer's
        // integration: it is in this layer's time, and counted apart too.
        if (l + 1 < L_) result_.pattern_seconds[l + 1] += tp;
        result_.layer_seconds[l] += omp_get_wtime() - t0;
    }
    std::pair<int64_t, int> bad{nb, -1};
    for (int l = 0; l < L_; ++l)
        if (bad_q_[l] < bad.first) bad = {bad_q_[l], l};
    return bad;
}

// A block of nb > 1 presentations from p_: afterwards p_ is its last
// presentation (the loop moves past it). false: the run diverged.
template <class T>
bool EngineRun<T>::block_of_presentations(int64_t nb) {
    const auto [q_bad, l_bad] = run_block(p_, step_, nb);
    if (l_bad >= 0) {  // as the per-presentation path reports it
        p_ += q_bad;
        step_ += (q_bad + 1) * S_;
        diverge(l_bad, step_, nonfinite_during(p_, step_, S_));
        return false;
    }
    p_ += nb - 1;
    step_ += nb * S_;
    const bool record_now = sch_.record_at(step_);
    const bool checkpoint = sch_.checkpoint_after(p_) && states_;
    if (record_now || checkpoint) flush_blocks();
    if (record_now) {
        metrics_of_every_layer();
        if (!record(step_)) return false;
    }
    observer_.on_progress(p_ + 1, P_);
    if (checkpoint) observer_.on_checkpoint(snapshot(plan_, blocks_, p_ + 1, step_));
    return true;
}

template <class T>
void EngineRun<T>::inputs_of(int l) {
    const double t0 = omp_get_wtime();
    source_->layer_inputs(p_, l, blocks_[l]);
    result_.pattern_seconds[l] += omp_get_wtime() - t0;
    if (observer_.wants_inputs()) {
        // Tests look at every neuron's row, contiguous (n x fan_in).
        const InputView<T> v = source_->inputs(l);
        const int64_t fan = plan_.layers[l].fan_in;
        std::vector<double> rows(static_cast<size_t>(blocks_[l].n * fan));
        for (int64_t i = 0; i < blocks_[l].n; ++i) std::copy_n(v.row(i), fan, &rows[i * fan]);
        observer_.on_inputs(p_, l, rows.data());
    }
}

// One segment of one layer: begin (first), advance, record or end (last).
template <class T>
void EngineRun<T>::segment(int l, size_t seg) {
    const double t0 = omp_get_wtime();
    PresentationIntegrator<T>& it = *integ_[l];
    const bool last = seg + 1 == stops_.size();
    if (seg == 0) it.begin(blocks_[l], source_->inputs(l), s0_[l]);
    it.advance_to(stops_[seg]);
    if (!last) {
        it.current_weights(w_now_[l]);
        metrics_of(l, w_now_[l].data());
    } else {
        finite_[l] = it.state_finite() ? 1 : 0;
        it.end();
        if (record_at_end_ && finite_[l]) metrics_of(l, blocks_[l].w.data());
    }
    result_.layer_seconds[l] += omp_get_wtime() - t0;
}

// Presentation p_ alone, on the materialised weights, in segments: the
// records inside it, then its end. false: the run diverged.
template <class T>
bool EngineRun<T>::presentation_alone() {
    flush_blocks();
    for (int l = 0; l < L_; ++l) {
        integ_[l] = sch_.plastic(l, p_) ? &active_[l] : &frozen_[l];
        s0_[l] = sch_.layer_clock(l, step_);
    }
    sch_.stops(step_, stops_);
    record_at_end_ = sch_.record_at(step_ + S_);
    source_->begin_presentation(p_);
    if (par_) {
        // Inputs come layer after layer (each pattern comes from the layer
        // below), and layer l's first segment can start as soon as its inputs
        // exist: one task chain builds the inputs while the other threads
        // integrate the layers already served. Every task computes the same
        // numbers whichever thread runs it.
        [[maybe_unused]] char* tok = tokens_.data();  // tok[l + 1]: layer l's inputs are built
#pragma omp parallel
#pragma omp single
        {
            for (int l = 0; l < L_; ++l) {
#pragma omp task default(shared) firstprivate(l) depend(in : tok[l]) depend(out : tok[l + 1])
                inputs_of(l);
#pragma omp task default(shared) firstprivate(l) depend(in : tok[l + 1])
                segment(l, 0);
            }
        }
    } else {
        for (int l = 0; l < L_; ++l) {
            inputs_of(l);
            segment(l, 0);
        }
    }
    // The records inside the presentation, unless their sums overflowed: a
    // divergence there leaves the last checkpoint as the last finite state.
    for (size_t seg = 1; seg < stops_.size(); ++seg) {
        if (seg == 1 && !record(step_ + stops_[0])) return false;
#pragma omp parallel for schedule(dynamic, 1) if (par_)
        for (int i = 0; i < L_; ++i) segment(sched_[i], seg);
        if (seg + 1 < stops_.size() && !record(step_ + stops_[seg])) return false;
    }
    step_ += S_;
    if (const int bad = first_bad(finite_); bad >= 0) {
        diverge(bad, step_, nonfinite_during(p_, step_, S_));
        return false;
    }
    if (sch_.record_at(step_) && !record(step_)) return false;
    observer_.on_progress(p_ + 1, P_);
    if (sch_.checkpoint_after(p_) && states_) observer_.on_checkpoint(snapshot(plan_, blocks_, p_ + 1, step_));
    return true;
}

template <class T>
RunResult EngineRun<T>::finish() {
    flush_blocks();  // (its time is the boundaries')
    const double t0 = omp_get_wtime();
    // On divergence the state is non-finite: the writer keeps the records and
    // the last checkpoint, and writes no final weights.
    result_.state = states_ ? snapshot(plan_, blocks_, p_, step_) : final_weights(plan_, blocks_, p_, step_);
    profile_add(SleepPhase::finish, omp_get_wtime() - t0);
    for (auto& it : active_) result_.integrator_steps += it.substeps();
    for (auto& it : frozen_) result_.integrator_steps += it.substeps();
    if (plan_.kind == PlanKind::single_layer && states_) {  // needs w0
        const LayerState& s = result_.state.layers[0];
        result_.theory_min = theory_min_neg_log_snr(SingleLayerInputs(cfg_).covariance(p_), s.w0, s.n, s.k,
                                                    cfg_.plasticity.gamma);
    }
    result_.seconds = omp_get_wtime() - t_start_;
    return std::move(result_);
}

template <class T>
RunResult EngineRun<T>::run() {
    if (!resume_) begin();
    run_presentations(sch_, p_, *this);  // core/run_loop.hpp, with this run as its policy
    return finish();
}

template <class T>
RunResult run(const SimConfig& cfg, const RunPlan& plan, const std::vector<std::vector<double>>& initial,
              RunObserver& observer, const RunState* resume) {
    return EngineRun<T>(cfg, plan, initial, observer, resume).run();
}

}  // namespace

long long run_memory_bytes(const SimConfig& cfg, const RunPlan& plan, bool state_copies) {
    // Per layer: w, w0, v in the block; the same three in a checkpoint copy and
    // in the result; the weights of a record inside a presentation; the
    // initial weights: 11 values per weight. Without state copies: the block's
    // three, the initial weights and the result's w: 5. Inputs: a single layer's x (one
    // row per neuron with noise); a stack's receptive fields per position and,
    // with noise, one row per neuron, and its block groups' rows. Counted in
    // doubles, in long double to stay meaningful for absurd sizes.
    const int64_t blk = std::min<int64_t>(cfg.dynamics.block, cfg.run.presentations);
    const std::vector<int64_t> groups = block_group_counts(plan);
    long double values = 0;
    for (int l = 0; l < plan.num_layers(); ++l) {
        const LayerPlan& pl = plan.layers[l];
        const long double nk = static_cast<long double>(pl.neurons) * static_cast<long double>(pl.fan_in);
        values += (state_copies ? 11 : 5) * nk + 4 * static_cast<long double>(pl.neurons);
        if (cfg.input.noise_std > 0) values += nk;
        if (plan.kind == PlanKind::stack)
            values += static_cast<long double>(pl.g.h_out()) * pl.g.w_out() * pl.fan_in +
                      static_cast<long double>(pl.g.c_in) * pl.g.h_in * pl.g.w_in;
        else
            values += pl.fan_in;
        if (blk > 1 && plan.kind == PlanKind::stack)
            values += static_cast<long double>(groups[l]) * pl.fan_in;
    }
    long double bytes = values * 8;
    // Blocked presentations: what setup_blocked_layers allocates (each
    // layer's coefficients and inputs, one set of drives for the largest
    // layer) and each thread's boundary scratch (core/block_plan.hpp).
    if (blk > 1) {
        const bool momentum = cfg.effective_form() != PlasticityForm::continuous;
        bytes += blocked_plan_bytes(plan, blk, momentum, sizeof(double), omp_get_max_threads());
    }
    return bytes > 9e18L ? static_cast<long long>(9e18) : static_cast<long long>(bytes);
}

bool cpu_runs_fp32(const SimConfig& cfg) { return cfg.run.precision == Precision::fp32; }

RunResult run_engine(const SimConfig& cfg, const RunPlan& plan, const std::vector<std::vector<double>>& initial,
                     RunObserver& observer, const RunState* resume) {
    if (plan.layers.empty()) throw UserError("a run needs at least one layer");
    if (cpu_runs_fp32(cfg)) return run<float>(cfg, plan, initial, observer, resume);
    return run<double>(cfg, plan, initial, observer, resume);
}

}  // namespace dynshare
