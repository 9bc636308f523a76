// SPDX-License-Identifier: BSD-3-Clause
// Validation and derived values of SimConfig. No YAML here: the I/O layer
// builds the struct, this file decides whether it describes a runnable model.
#include "dynshare/config.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "core/block_gemm.hpp"
#include "dynshare/errors.hpp"

namespace dynshare {

const char* to_string(ModelKind v) { return v == ModelKind::ideal ? "ideal" : "ei_rate"; }

const char* to_string(Integrator v) {
    switch (v) {
    case Integrator::euler: return "euler";
    case Integrator::rk4: return "rk4";
    case Integrator::dopri5: return "dopri5";
    case Integrator::exponential: return "exponential";
    }
    return "?";
}

const char* to_string(ScheduleKind v) {
    switch (v) {
    case ScheduleKind::constant: return "constant";
    case ScheduleKind::inv: return "inv";
    case ScheduleKind::inv_sqrt: return "inv_sqrt";
    }
    return "?";
}

const char* to_string(PlasticityForm v) {
    switch (v) {
    case PlasticityForm::automatic: return "auto";
    case PlasticityForm::discrete: return "discrete";
    case PlasticityForm::continuous: return "continuous";
    }
    return "?";
}

const char* to_string(LrScaling v) { return v == LrScaling::none ? "none" : "fan_in"; }

const char* to_string(Nonlinearity v) { return v == Nonlinearity::relu ? "relu" : "identity"; }

const char* to_string(BorderInput v) { return v == BorderInput::zero ? "zero" : "periodic"; }

const char* to_string(Precision v) {
    return v == Precision::fp64 ? "fp64" : v == Precision::fp32 ? "fp32" : "auto";
}

const char* to_string(LayerSchedule v) {
    return v == LayerSchedule::simultaneous ? "simultaneous" : "layer_by_layer";
}

// validate() guarantees presentation is a whole number of dt steps.
int64_t SimConfig::steps_per_presentation() const {
    if (model == ModelKind::ideal) return 1;
    return std::llround(input.presentation / dynamics.dt);
}

int64_t SimConfig::total_steps() const { return run.presentations * steps_per_presentation(); }

PlasticityForm SimConfig::effective_form() const {
    if (plasticity.form != PlasticityForm::automatic) return plasticity.form;
    const bool stepped = dynamics.integrator == Integrator::euler || dynamics.integrator == Integrator::rk4;
    return stepped ? PlasticityForm::discrete : PlasticityForm::continuous;
}

// Continuum limit of momentum SGD: w moves by lr/(1-momentum) per dt step.
double SimConfig::effective_tau_w() const {
    if (plasticity.tau_w > 0) return plasticity.tau_w;
    if (plasticity.lr == 0) return std::numeric_limits<double>::infinity();
    return dynamics.dt * (1 - plasticity.momentum) / plasticity.lr;
}

namespace {

// Shortest text that reads back as the same double, so messages show what
// the user wrote (0.03, not 0.029999999999999999).
std::string show(double x) {
    char buf[32];
    return std::string(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
}
std::string show(int64_t x) { return std::to_string(x); }
std::string show(int x) { return std::to_string(x); }

template <class T>
void check(bool ok, const std::string& key, T value, const std::string& rule) {
    if (!ok) throw UserError(key + " = " + show(value) + ": " + rule);
}
// The negated comparisons also reject NaN.
void positive(const std::string& key, double x) {
    check(std::isfinite(x) && x > 0, key, x, "must be a finite number > 0");
}
void non_negative(const std::string& key, double x) {
    check(std::isfinite(x) && x >= 0, key, x, "must be a finite number >= 0");
}
void finite(const std::string& key, double x) { check(std::isfinite(x), key, x, "must be a finite number"); }
template <class Int>
void at_least(const std::string& key, Int x, Int min) {
    check(x >= min, key, x, "must be an integer >= " + std::to_string(min));
}

void validate_layer(const SimConfig& c) {
    if (!c.stack.enabled) at_least("layer.neurons", c.layer.neurons, 2);
    at_least("layer.kernel", c.layer.kernel, 1);
    finite("layer.init_mean", c.layer.init_mean);
    non_negative("layer.init_std", c.layer.init_std);
}

// Stability of the explicit steps. The leak alone needs dt < tau for euler
// (monotone relaxation). The inhibitory loop of Eq. 8 has eigenvalues
// (-1 +- i sqrt(alpha)) / tau: euler is stable only for dt < 2 tau / (1 + alpha)
// (|1 + dt lambda| < 1), and rk4, whose stability region reaches |dt lambda| ~ 2.8,
// needs dt sqrt(1 + alpha) < 2.5 tau (with a margin).
void validate_step_size(const DynamicsParams& d) {
    const std::string dt = "dynamics.dt";
    if (d.integrator == Integrator::euler) {
        check(d.dt < d.tau, dt, d.dt, "the euler integrator needs dt < dynamics.tau = " + show(d.tau));
        const double limit = 2.0 * d.tau / (1.0 + d.alpha);
        check(d.dt < limit, dt, d.dt,
              "the euler integrator is unstable for dt >= 2 tau / (1 + dynamics.alpha) = " + show(limit) +
                  " (use a smaller dt, or integrator rk4 or exponential)");
    }
    if (d.integrator == Integrator::rk4) {
        const double limit = 2.5 * d.tau / std::sqrt(1.0 + d.alpha);
        check(d.dt < limit, dt, d.dt,
              "the rk4 integrator needs dt < 2.5 tau / sqrt(1 + dynamics.alpha) = " + show(limit));
    }
}

void validate_dynamics(const SimConfig& c) {
    const DynamicsParams& d = c.dynamics;
    positive("dynamics.tau", d.tau);
    positive("dynamics.dt", d.dt);
    non_negative("dynamics.alpha", d.alpha);
    finite("dynamics.bias", d.bias);
    non_negative("dynamics.macro_step", d.macro_step);
    at_least<int64_t>("dynamics.block", d.block, 1);
    // A DYNSHARE_BLOCK_KERNEL this CPU cannot run is refused here, before any file is touched.
    if (d.block > 1) block_isa();
    positive("dynamics.abs_tol", d.abs_tol);
    positive("dynamics.rel_tol", d.rel_tol);
    if (c.model == ModelKind::ei_rate) validate_step_size(d);  // the ideal model has no ODE
}

void validate_plasticity(const SimConfig& c) {
    const PlasticityParams& p = c.plasticity;
    non_negative("plasticity.lr", p.lr);
    non_negative("plasticity.gamma", p.gamma);
    check(p.momentum >= 0 && p.momentum < 1, "plasticity.momentum", p.momentum, "must be in [0, 1)");
    positive("plasticity.schedule_t0", p.schedule_t0);
    at_least<int64_t>("plasticity.delay_steps", p.delay_steps, 0);
    non_negative("plasticity.tau_w", p.tau_w);
    const Integrator in = c.dynamics.integrator;
    if (p.form == PlasticityForm::discrete && (in == Integrator::dopri5 || in == Integrator::exponential))
        throw UserError(std::string("plasticity.form = discrete: needs dynamics.integrator euler or rk4 (dynamics.integrator = ") +
                        to_string(in) + " has no fixed step; use plasticity.form continuous or auto)");
}

void validate_input(const SimConfig& c) {
    positive("input.presentation", c.input.presentation);
    non_negative("input.noise_std", c.input.noise_std);
    if (c.model != ModelKind::ei_rate) return;
    // Below 2^53 steps, so the count is exact and fits steps_per_presentation().
    const double steps = c.input.presentation / c.dynamics.dt;
    const bool whole = std::round(steps) >= 1 && steps < 0x1p53 && std::abs(steps - std::round(steps)) <= 1e-9 * steps;
    check(whole, "input.presentation", c.input.presentation,
          "must be a whole number (>= 1) of dynamics.dt = " + show(c.dynamics.dt));
}

void validate_run(const SimConfig& c) {
    at_least<int64_t>("run.presentations", c.run.presentations, 1);
    at_least<int64_t>("run.record_every", c.run.record_every, 1);
    at_least<int64_t>("run.checkpoint_every", c.run.checkpoint_every, 1);
    const int64_t limit = std::numeric_limits<int64_t>::max() / c.steps_per_presentation();
    check(c.run.presentations <= limit, "run.presentations", c.run.presentations,
          "too many: the step count overflows (at most " + std::to_string(limit) + ")");
}

// Walks the stack like LcGeometry does (out = (in + 2p - k) / s + 1), in
// 64 bits so absurd paddings cannot overflow.
void validate_stack_layers(const StackParams& s) {
    int64_t h = s.input.height, w = s.input.width;
    for (size_t i = 0; i < s.layers.size(); ++i) {
        const StackLayer& l = s.layers[i];
        const std::string key = "stack.layers[" + std::to_string(i) + "].";
        at_least(key + "channels", l.channels, 1);
        at_least(key + "kernel", l.kernel, 1);
        at_least(key + "stride", l.stride, 1);
        at_least(key + "padding", l.padding, 0);
        finite(key + "init_mean", l.init_mean);
        finite(key + "init_std", l.init_std);
        const int64_t ph = h + 2 * int64_t(l.padding), pw = w + 2 * int64_t(l.padding);
        check(l.kernel <= ph && l.kernel <= pw, key + "kernel", l.kernel,
              "larger than the layer's padded input " + std::to_string(ph) + "x" + std::to_string(pw));
        h = (ph - l.kernel) / l.stride + 1;
        w = (pw - l.kernel) / l.stride + 1;
    }
}

void validate_stack(const StackParams& s) {
    if (!s.enabled) return;
    if (s.layers.empty()) throw UserError("stack.layers = []: needs at least one layer");
    non_negative("stack.drive", s.drive);
    at_least("stack.input.channels", s.input.channels, 1);
    at_least("stack.input.height", s.input.height, 1);
    at_least("stack.input.width", s.input.width, 1);
    if (s.connectivity == Connectivity::period && s.period < 1)
        throw UserError("stack.connectivity = period:" + std::to_string(s.period) + ": the period must be an integer >= 1");
    validate_stack_layers(s);
}

}  // namespace

void validate(const SimConfig& cfg) {
    validate_layer(cfg);
    validate_dynamics(cfg);
    validate_plasticity(cfg);
    validate_input(cfg);  // before run: steps_per_presentation needs a valid presentation
    validate_run(cfg);
    validate_stack(cfg.stack);
}

}  // namespace dynshare
