// SPDX-License-Identifier: BSD-3-Clause
// Public entry points of the stacked sleep phase (include/dynshare/sleep_phase.hpp),
// in the backends library because they run through a Backend:
// a stacked plan of the caller's weights, run through a Backend.
#include "dynshare/sleep_phase.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

#include "dynshare/backend.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/snr.hpp"
#include "core/step_params.hpp"

namespace dynshare {

std::vector<LcGeometry> stack_geometry(const StackParams& stack) {
    std::vector<LcGeometry> g = make_stack_geometry(stack);
    make_stack_plan(stack, g);  // module periods and strides (throws UserError)
    return g;
}

// Defaults of the simulated sleep phase inside training, where they differ
// from the simulator's (Fig. 4B) defaults; the measurements behind them are in
// docs/guide/train.md ("The simulated sleep phase").
// - Rate: Fig. 4B's 3e-4 per step with momentum 0.95 and a 1/sqrt decay is
//   tuned for one layer of k^2 = 81 inputs over 10,000 presentations. A phase
//   of ~100 presentations over layers of up to c_in k^2 = 576 inputs needs a
//   rate per unit input power (lr_scaling fan_in: per-step gain 0.008 in
//   every layer), constant, and no momentum, whose lag makes the anti-Hebbian
//   loop overshoot in wide layers.
// - alpha: at Eq. 8's fixed point a module's mean weight shrinks each phase to
//   gamma / (gamma + lambda / (1 + alpha)) of itself (lambda ~ 1, the input
//   covariance of unit-RMS patterns): 9 % per phase at alpha = 100, which over
//   hundreds of phases erases the weights the network learned; 0.1 % at
//   alpha = 1e4. The exponential integrator is exact for any alpha.
// - stack.drive = 1 gives deep layers inputs that span their space.
// - stack.border = periodic lets border neurons see their module's pattern;
//   with zero padding they also pull every module mean down.
// - dynamics.block: the simulator's default, 40 (the same trajectory as 1 to
//   1e-10); on the Table 1 sleep(10) net's 100-presentation phases 20, 40 and
//   100 tie, all far faster than 1 (docs/guide/train.md, "The simulated sleep phase").
SimConfig sleep_phase_defaults() {
    SimConfig s;
    s.model = ModelKind::ei_rate;
    s.dynamics.alpha = 1.0e4;
    s.dynamics.integrator = Integrator::exponential;
    s.plasticity.lr = 0.008;
    s.plasticity.gamma = 0.1;
    s.plasticity.momentum = 0.0;
    s.plasticity.schedule = ScheduleKind::constant;
    s.plasticity.delay_steps = 0;
    s.plasticity.lr_scaling = LrScaling::fan_in;
    s.stack.drive = 1.0;
    s.stack.border = BorderInput::periodic;
    return s;
}

// The engine's view of the chain: input shape and one StackLayer per layer.
SimConfig sleep_phase_config(const SimConfig& sleep, const std::vector<LcGeometry>& geo, int64_t presentations,
                             uint64_t seed, uint64_t phase) {
    if (geo.empty()) throw UserError("sleep phase: no LC layers");
    SimConfig sim = sleep;
    sim.model = ModelKind::ei_rate;
    sim.run.presentations = presentations;
    sim.run.seed = seed;
    sim.run.stream = phase;
    sim.stack.enabled = true;
    sim.stack.connectivity = Connectivity::grid;
    sim.stack.input = StackInput{geo.front().c_in, geo.front().h_in, geo.front().w_in};
    sim.stack.layers.clear();
    for (const auto& g : geo) {
        StackLayer l;
        l.channels = g.c_out;
        l.kernel = g.k;
        l.stride = g.stride;
        l.padding = g.padding;
        l.nonlinearity = Nonlinearity::relu;
        sim.stack.layers.push_back(l);
    }
    return sim;
}

namespace {
struct PhaseObserver : RunObserver {
    std::vector<double> first, last;
    void on_record(int64_t step, double, const std::vector<double>& nls, const std::vector<double>&) override {
        if (step == 0) first = nls;
        last = nls;
    }
    bool wants_states() const override { return false; }  // only the final weights are used
};

// The phase's config: this phase's patterns, one record at the start (and,
// with `record_at_end`, one at the last step), no checkpoints.
SimConfig phase_config(const SimConfig& cfg, uint64_t seed_run, bool record_at_end) {
    SimConfig c = cfg;
    c.run.stream = seed_run;
    c.run.record_every = std::numeric_limits<int64_t>::max() / 2;
    if (record_at_end) c.run.record_every = std::max<int64_t>(1, c.run.presentations * StepParams::from(c).steps);
    c.run.checkpoint_every = std::numeric_limits<int64_t>::max() / 2;
    return c;
}

void check_layers(size_t given, size_t layers) {
    if (given != layers)
        throw UserError("run_sleep_phase: " + std::to_string(given) + " weight arrays for " + std::to_string(layers) +
                        " layers");
}
}  // namespace

SleepPhaseResult run_sleep_phase(const SimConfig& cfg, const std::vector<LcGeometry>& geometry,
                                 std::vector<std::vector<double>>& weights, uint64_t seed_run, Backend& backend) {
    const RunPlan plan = make_stack_plan(cfg.stack, geometry);
    check_layers(weights.size(), geometry.size());
    const SimConfig c = phase_config(cfg, seed_run, false);
    backend.check(c, plan);
    PhaseObserver obs;
    RunResult r = backend.run(c, plan, weights, obs, nullptr);
    if (r.status == RunStatus::diverged) throw DivergenceError("sleep phase: " + r.message);
    SleepPhaseResult out;
    out.neg_log_snr_before = obs.first;
    for (size_t l = 0; l < geometry.size(); ++l) {
        weights[l] = std::move(r.state.layers[l].w);
        out.neg_log_snr_after.push_back(lc_neg_log_snr(geometry[l], weights[l].data(), plan.layers[l].period));
    }
    out.seconds = r.seconds;
    return out;
}

SleepPhaseResult run_sleep_phase(const SimConfig& cfg, const std::vector<LcGeometry>& geometry,
                                 const ResidentWeights& weights, uint64_t seed_run, Backend& backend) {
    if (!backend.runs_resident())
        throw std::invalid_argument("run_sleep_phase: backend " + backend.name() + " takes no resident weights");
    const RunPlan plan = make_stack_plan(cfg.stack, geometry);
    check_layers(weights.layers.size(), geometry.size());
    const SimConfig c = phase_config(cfg, seed_run, true);
    backend.check(c, plan);
    PhaseObserver obs;
    RunResult r = backend.run_resident(c, plan, weights, obs);
    if (r.status == RunStatus::diverged) throw DivergenceError("sleep phase: " + r.message);
    SleepPhaseResult out;
    out.neg_log_snr_before = obs.first;
    out.neg_log_snr_after = obs.last;
    out.seconds = r.seconds;
    return out;
}

void check_sleep_phase(const SimConfig& cfg, const std::vector<LcGeometry>& geometry, Backend& backend) {
    backend.check(phase_config(cfg, 0, backend.runs_resident()), make_stack_plan(cfg.stack, geometry));
}

SleepPhaseResult run_sleep_phase(const SimConfig& cfg, const std::vector<LcGeometry>& geometry,
                                 std::vector<std::vector<double>>& weights, uint64_t seed_run) {
    const auto cpu = make_cpu_backend();
    return run_sleep_phase(cfg, geometry, weights, seed_run, *cpu);
}

// -log of the module-averaged SNR_w: for each module (period `period`; 1 =
// one module per channel) SNR_w of Eq. 6 over its non-border neurons, then
// the mean over all modules of all channels, then -log. Modules with fewer
// than two non-border neurons are skipped.
double lc_neg_log_snr(const LcGeometry& g, const double* weights, int period) {
    return lc_snr(g, weights, period).neg_log_snr;
}

}  // namespace dynshare
