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
#include <numeric>

#include "core/block.hpp"
#include "core/first_touch.hpp"
#include "core/input_source.hpp"
#include "core/inputs.hpp"
#include "core/layer_block.hpp"
#include "core/presentation.hpp"
#include "core/run_report.hpp"
#include "core/run_schedule.hpp"
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
        blocks[l].resize(n, k, pl.module_offsets, cfg.dynamics.bias, /*zero_weights=*/resume != nullptr);
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

template <class T>
RunResult run(const SimConfig& cfg, const RunPlan& plan, const std::vector<std::vector<double>>& initial,
              RunObserver& observer, const RunState* resume) {
    const double t_start = omp_get_wtime();
    const int L = plan.num_layers();
    const StepParams sp = StepParams::from(cfg);
    StepParams sp_frozen = sp;
    sp_frozen.plastic = false;
    const RunSchedule sch = RunSchedule::from(cfg, plan);  // when: stops, blocks, the active layer
    const bool by_layer = sch.by_layer();
    const int64_t S = sch.steps(), P = sch.presentations();

    std::vector<LayerBlock<T>> blocks;
    init_blocks(cfg, plan, initial, resume, blocks);

    // Largest layers first, so the dynamic schedule balances the threads.
    std::vector<int> sched(L);
    std::iota(sched.begin(), sched.end(), 0);
    std::stable_sort(sched.begin(), sched.end(),
                     [&](int a, int b) { return plan.layers[a].weight_count() > plan.layers[b].weight_count(); });

    std::vector<PresentationIntegrator<T>> active, frozen;
    active.reserve(L);
    // Per layer: plasticity.lr_scaling = fan_in divides each layer's rate by its own fan-in.
    for (int l = 0; l < L; ++l) active.emplace_back(StepParams::from(cfg, plan.layers[l].fan_in));
    if (by_layer) {
        frozen.reserve(L);
        for (int l = 0; l < L; ++l) frozen.emplace_back(sp_frozen);
    }

    // Threads only pay when a presentation has enough work: each parallel
    // region costs a barrier, which on a busy machine can take a time slice.
    int64_t work = 0;
    for (const auto& pl : plan.layers) work += pl.weight_count() + pl.neurons * S;
    const bool par = work >= (int64_t(1) << 18);

    const std::unique_ptr<InputSource<T>> source = make_input_source<T>(cfg, plan);
    RunResult result;
    result.layer_seconds.assign(L, 0.0);
    result.pattern_seconds.assign(L, 0.0);
    std::vector<double> nls(L), mas(L);
    std::vector<char> rec_finite(L, 1);  // the last record of each layer could be computed
    std::vector<std::vector<T>> w_now(L);
    std::vector<char> finite(L, 1);
    std::vector<PresentationIntegrator<T>*> integ(L);
    std::vector<char> tokens(L + 1, 0);
    std::vector<int64_t> s0(L, 0), stops;

    auto metrics_of = [&](int l, const T* w) {
        const LayerPlan& pl = plan.layers[l];
        // |mean| / std is stored for stacks; the one-layer layout keeps -log SNR_w only.
        const LayerSnr m = module_snr(w, pl.fan_in, pl.snr_rows.data(), pl.snr_offsets.data(),
                                      static_cast<int64_t>(pl.snr_offsets.size()) - 1, plan.kind == PlanKind::stack);
        nls[l] = m.neg_log_snr;
        mas[l] = m.mean_abs_over_std;
        rec_finite[l] = m.finite ? 1 : 0;
    };
    // Divergence: the state (rates, plasticity coordinates) or a record's sums
    // became non-finite. The run stops there; no record of a diverged state is
    // emitted, so the file's records end at the last finite state.
    auto first_bad = [&](const std::vector<char>& ok) {
        for (int l = 0; l < L; ++l)
            if (!ok[l]) return l;
        return -1;
    };
    auto diverge = [&](int l, int64_t at_step, const std::string& where) {
        report_divergence(result, plan.kind == PlanKind::stack, l, at_step, where);
    };

    // Blocked presentations (dynamics.block, core/block.hpp): where blocks
    // start and end is RunSchedule::block_length's (core/run_schedule.hpp).
    // All presentations of a plan whose inputs differ per neuron run alone.
    const int64_t block = sch.block();
    std::vector<BlockedLayer<T>> blocked;
    if (block > 1 && cfg.model == ModelKind::ei_rate && !observer.wants_inputs()) {
        blocked.resize(L);
        for (int l = 0; l < L; ++l) {
            InputGroups g;
            if (!source->block_groups(l, g)) {
                blocked.clear();
                break;
            }
            blocked[l].setup(plan.layers[l].neurons, plan.layers[l].fan_in, std::move(g), block, !sp.continuous);
        }
    }
    // A block's end (its weights' materialisation) is deferred to the next
    // block's start, where it shares the pass over the weights: until then
    // blocks[l].w is stale. Everything else that reads the weights (records,
    // checkpoints, a presentation alone, the result) flushes first.
    auto flush_blocks = [&] {
        for (int l = 0; l < static_cast<int>(blocked.size()); ++l) {
            const double t0 = omp_get_wtime();
            blocked[l].finish(blocks[l]);
            result.layer_seconds[l] += omp_get_wtime() - t0;
        }
    };
    std::vector<T> zbuf;
    std::vector<int64_t> bad_q(L);
    // Presentations [p, p + nb) as one block, layer after layer: layer l's
    // drives at each presentation's start give layer l + 1's patterns.
    // Returns the first presentation (offset) and layer that became non-finite.
    auto run_block = [&](int64_t p0, int64_t step0, int64_t nb) -> std::pair<int64_t, int> {
        const int act = by_layer ? sch.active_layer(p0) : -1;
        auto take_inputs = [&](int l, int64_t q) {
            BlockedLayer<T>& bl = blocked[l];
            const int64_t fan = plan.layers[l].fan_in;
            for (int64_t g = 0; g < bl.groups().groups(); ++g) std::copy_n(source->group_row(l, g), fan, bl.input(g, q));
        };
        {
            const double t0 = omp_get_wtime();
            for (int64_t q = 0; q < nb; ++q) {
                source->begin_presentation(p0 + q);
                source->block_inputs(p0 + q, 0);
                take_inputs(0, q);
            }
            result.pattern_seconds[0] += omp_get_wtime() - t0;
        }
        for (int l = 0; l < L; ++l) {
            const double t0 = omp_get_wtime();
            double tp = 0.0;
            PresentationIntegrator<T>& it = by_layer && l != act ? frozen[l] : active[l];
            BlockedLayer<T>& bl = blocked[l];
            bl.start(blocks[l], nb);
            zbuf.resize(static_cast<size_t>(blocks[l].n));
            bad_q[l] = nb;
            for (int64_t q = 0; q < nb; ++q) {
                const int64_t st = step0 + q * S;
                const int64_t s0l = sch.layer_clock(l, st);
                // Layer l + 1's inputs for presentation q need only its drives
                // at the start (zbuf): they are built on one thread while the
                // others integrate the presentation (a serial pass otherwise).
                std::function<void()> next_inputs;
                if (l + 1 < L)
                    next_inputs = [&, q] {
                        const double t1 = omp_get_wtime();
                        source->block_drives(p0 + q, l, zbuf.data());
                        source->block_inputs(p0 + q, l + 1);
                        take_inputs(l + 1, q);
                        tp += omp_get_wtime() - t1;
                    };
                bl.presentation(q, it, blocks[l], s0l, S, zbuf.data(), next_inputs);
                if (bad_q[l] == nb && !(it.state_finite() && bl.coefficients_finite())) bad_q[l] = q;
            }
            bl.end_block();  // materialised by the next block's start, or by flush_blocks
            // The next layer's input building overlapped this layer's
            // integration: it is in this layer's time, and counted apart too.
            if (l + 1 < L) result.pattern_seconds[l + 1] += tp;
            result.layer_seconds[l] += omp_get_wtime() - t0;
        }
        std::pair<int64_t, int> bad{nb, -1};
        for (int l = 0; l < L; ++l)
            if (bad_q[l] < bad.first) bad = {bad_q[l], l};
        return bad;
    };

    int64_t p = resume ? resume->presentation : 0;
    int64_t step = resume ? resume->step : 0;
    const bool states = observer.wants_states();  // false: no state copies (run_observer.hpp)
    if (!resume) {
        if (states) observer.on_begin(snapshot(plan, blocks, 0, 0));
#pragma omp parallel for schedule(dynamic, 1) if (par)
        for (int i = 0; i < L; ++i) metrics_of(sched[i], blocks[sched[i]].w.data());
        observer.on_record(0, 0.0, nls, mas);
    }
    for (; p < P; ++p) {
        if (observer.stop_requested()) {
            result.status = RunStatus::interrupted;
            break;
        }
        if (const int64_t nb = sch.block_length(p, !blocked.empty()); nb > 1) {
            const auto [q_bad, l_bad] = run_block(p, step, nb);
            if (l_bad >= 0) {  // as the per-presentation path reports it
                p += q_bad;
                step += (q_bad + 1) * S;
                diverge(l_bad, step, nonfinite_during(p, step, S));
                break;
            }
            p += nb - 1;  // the last presentation of the block; the loop's ++p moves past it
            step += nb * S;
            const bool record = sch.record_at(step);
            const bool checkpoint = sch.checkpoint_after(p) && states;
            if (record || checkpoint) flush_blocks();
            if (record) {
#pragma omp parallel for schedule(dynamic, 1) if (par)
                for (int i = 0; i < L; ++i) metrics_of(sched[i], blocks[sched[i]].w.data());
                if (const int bad = first_bad(rec_finite); bad >= 0) {
                    diverge(bad, step, overflow_at(step, p));
                    break;
                }
                observer.on_record(step, sch.record_time(step), nls, mas);
            }
            observer.on_progress(p + 1, P);
            if (checkpoint) observer.on_checkpoint(snapshot(plan, blocks, p + 1, step));
            continue;
        }
        flush_blocks();  // this presentation runs alone, on the materialised weights
        for (int l = 0; l < L; ++l) {
            integ[l] = sch.plastic(l, p) ? &active[l] : &frozen[l];
            s0[l] = sch.layer_clock(l, step);
        }
        // Segments: the records inside the presentation, then its end.
        sch.stops(step, stops);
        const bool record_at_end = sch.record_at(step + S);
        // One segment of one layer: begin (first), advance, record or end (last).
        auto segment = [&](int l, size_t seg) {
            const double t0 = omp_get_wtime();
            PresentationIntegrator<T>& it = *integ[l];
            const bool last = seg + 1 == stops.size();
            if (seg == 0) it.begin(blocks[l], source->inputs(l), s0[l]);
            it.advance_to(stops[seg]);
            if (!last) {
                it.current_weights(w_now[l]);
                metrics_of(l, w_now[l].data());
            } else {
                finite[l] = it.state_finite() ? 1 : 0;
                it.end();
                if (record_at_end && finite[l]) metrics_of(l, blocks[l].w.data());
            }
            result.layer_seconds[l] += omp_get_wtime() - t0;
        };
        auto inputs_of = [&](int l) {
            const double t0 = omp_get_wtime();
            source->layer_inputs(p, l, blocks[l]);
            result.pattern_seconds[l] += omp_get_wtime() - t0;
            if (observer.wants_inputs()) {
                // Tests look at every neuron's row, contiguous (n x fan_in).
                const InputView<T> v = source->inputs(l);
                const int64_t fan = plan.layers[l].fan_in;
                std::vector<double> rows(static_cast<size_t>(blocks[l].n * fan));
                for (int64_t i = 0; i < blocks[l].n; ++i) std::copy_n(v.row(i), fan, &rows[i * fan]);
                observer.on_inputs(p, l, rows.data());
            }
        };
        source->begin_presentation(p);
        if (par) {
            // Inputs come layer after layer (each pattern comes from the layer
            // below), and layer l's first segment can start as soon as its inputs
            // exist: one task chain builds the inputs while the other threads
            // integrate the layers already served. Every task computes the same
            // numbers whichever thread runs it.
            [[maybe_unused]] char* tok = tokens.data();  // tok[l + 1]: layer l's inputs are built
#pragma omp parallel
#pragma omp single
            {
                for (int l = 0; l < L; ++l) {
#pragma omp task default(shared) firstprivate(l) depend(in : tok[l]) depend(out : tok[l + 1])
                    inputs_of(l);
#pragma omp task default(shared) firstprivate(l) depend(in : tok[l + 1])
                    segment(l, 0);
                }
            }
        } else {
            for (int l = 0; l < L; ++l) {
                inputs_of(l);
                segment(l, 0);
            }
        }
        // A record inside the presentation, unless its sums overflowed.
        auto record_inside = [&](size_t seg) {
            const int bad = first_bad(rec_finite);
            if (bad >= 0) {
                diverge(bad, step + stops[seg], overflow_at(step + stops[seg], p));
                return false;
            }
            observer.on_record(step + stops[seg], sch.record_time(step + stops[seg]), nls, mas);
            return true;
        };
        bool ok = true;
        for (size_t seg = 1; seg < stops.size() && ok; ++seg) {
            if (seg == 1 && !(ok = record_inside(0))) break;
#pragma omp parallel for schedule(dynamic, 1) if (par)
            for (int i = 0; i < L; ++i) segment(sched[i], seg);
            if (seg + 1 < stops.size()) ok = record_inside(seg);
        }
        if (!ok) break;  // diverged inside the presentation; the last checkpoint stays the last finite state
        step += S;
        if (const int bad = first_bad(finite); bad >= 0) {
            diverge(bad, step, nonfinite_during(p, step, S));
            break;
        }
        if (sch.record_at(step)) {
            if (const int bad = first_bad(rec_finite); bad >= 0) {
                diverge(bad, step, overflow_at(step, p));
                break;
            }
            observer.on_record(step, sch.record_time(step), nls, mas);
        }
        observer.on_progress(p + 1, P);
        if (sch.checkpoint_after(p) && states)
            observer.on_checkpoint(snapshot(plan, blocks, p + 1, step));
    }
    flush_blocks();
    // On divergence the state is non-finite: the writer keeps the records and
    // the last checkpoint, and writes no final weights.
    result.state = snapshot(plan, blocks, p, step, !states);
    for (auto& it : active) result.integrator_steps += it.substeps();
    for (auto& it : frozen) result.integrator_steps += it.substeps();
    if (plan.kind == PlanKind::single_layer && states) {  // needs w0
        const LayerState& s = result.state.layers[0];
        result.theory_min = theory_min_neg_log_snr(SingleLayerInputs(cfg).covariance(p), s.w0, s.n, s.k,
                                                   cfg.plasticity.gamma);
    }
    result.seconds = omp_get_wtime() - t_start;
    return result;
}

}  // namespace

long long run_memory_bytes(const SimConfig& cfg, const RunPlan& plan, bool state_copies) {
    // Per layer: w, w0, v in the block; the same three in a checkpoint copy and
    // in the result; the weights of a record inside a presentation; the
    // initial weights: 11 values per weight. Without state copies: the block's
    // three, the initial weights and the result's w: 5. Inputs: a single layer's x (one
    // row per neuron with noise); a stack's receptive fields per position and,
    // with noise, one row per neuron. Counted in doubles, in long double to
    // stay meaningful for absurd sizes.
    long double values = 0;
    for (const LayerPlan& pl : plan.layers) {
        const long double nk = static_cast<long double>(pl.neurons) * static_cast<long double>(pl.fan_in);
        values += (state_copies ? 11 : 5) * nk + 4 * static_cast<long double>(pl.neurons);
        if (cfg.input.noise_std > 0) values += nk;
        if (plan.kind == PlanKind::stack)
            values += static_cast<long double>(pl.g.h_out()) * pl.g.w_out() * pl.fan_in +
                      static_cast<long double>(pl.g.c_in) * pl.g.h_in * pl.g.w_in;
        else
            values += pl.fan_in;
        // Blocked presentations: five n x block arrays (drives, coefficients)
        // and the block's inputs twice (this block's and the next's, padded
        // to 64 bytes, + 8), counted for one input group: a stack's few dozen
        // groups' inputs are small against the n x block arrays.
        const long double blk = static_cast<long double>(std::min<int64_t>(cfg.dynamics.block, cfg.run.presentations));
        if (blk > 1) values += 5 * static_cast<long double>(pl.neurons) * blk + blk * blk + 2 * (blk + 8) * pl.fan_in;
    }
    const long double bytes = values * 8;
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
