// SPDX-License-Identifier: BSD-3-Clause
// The schema of SimConfig (the simulator's run config): one visit() per
// section lists its keys, in the order of to_yaml. The generic machinery in
// schema.hpp turns these lists into the reader, the writer, the --set checks
// and the HDF5 parameter attributes; the trainer reuses the dynamics,
// plasticity, input and stack sections for its sleep.* keys. Adding a key is
// one line here.
#pragma once
#include <string>
#include <vector>

#include "dynshare/config.hpp"
#include "io/schema.hpp"

namespace dynshare {

// stack.connectivity is one YAML scalar for two fields: "grid" | "full" | "period:<p>".
struct ConnectivityRef {
    Connectivity& kind;
    int& period;
};

template <class V> void visit(V& v, LayerParams& p) {
    v("neurons", p.neurons); v("kernel", p.kernel); v("init_mean", p.init_mean); v("init_std", p.init_std);
}
template <class V> void visit(V& v, DynamicsParams& p) {
    v("tau", p.tau); v("dt", p.dt); v("alpha", p.alpha); v("bias", p.bias); v("integrator", p.integrator);
    v("macro_step", p.macro_step); v("abs_tol", p.abs_tol); v("rel_tol", p.rel_tol); v("block", p.block);
}
template <class V> void visit(V& v, PlasticityParams& p) {
    v("lr", p.lr); v("gamma", p.gamma); v("momentum", p.momentum); v("schedule", p.schedule);
    v("schedule_t0", p.schedule_t0); v("delay_steps", p.delay_steps); v("form", p.form); v("tau_w", p.tau_w);
    v("lr_scaling", p.lr_scaling);
}
template <class V> void visit(V& v, InputParams& p) { v("presentation", p.presentation); v("noise_std", p.noise_std); }
template <class V> void visit(V& v, RunParams& p) {
    v("presentations", p.presentations); v("record_every", p.record_every); v("seed", p.seed);
    v("stream", p.stream); v("checkpoint_every", p.checkpoint_every); v("precision", p.precision);
}
template <class V> void visit(V& v, StackInput& p) { v("channels", p.channels); v("height", p.height); v("width", p.width); }
template <class V> void visit(V& v, StackLayer& p) {
    v("channels", p.channels); v("kernel", p.kernel); v("stride", p.stride); v("padding", p.padding);
    v("nonlinearity", p.nonlinearity); v("init_mean", p.init_mean); v("init_std", p.init_std);
}
template <class V> void visit(V& v, StackParams& p) {
    ConnectivityRef connectivity{p.connectivity, p.period};
    v("input", p.input); v("layers", p.layers); v("connectivity", connectivity); v("schedule", p.schedule);
    v("normalize", p.normalize); v("drive", p.drive); v("border", p.border);
}
template <class V> void visit(V& v, SimConfig& c) {
    v("model", c.model); v("layer", c.layer); v("dynamics", c.dynamics); v("plasticity", c.plasticity);
    v("input", c.input); v("run", c.run); v("stack", c.stack);  // stack.enabled: schema::Optional below
}

inline std::vector<ModelKind> enum_values(schema::tag<ModelKind>) { return {ModelKind::ideal, ModelKind::ei_rate}; }
inline std::vector<Integrator> enum_values(schema::tag<Integrator>) {
    return {Integrator::euler, Integrator::rk4, Integrator::dopri5, Integrator::exponential};
}
inline std::vector<ScheduleKind> enum_values(schema::tag<ScheduleKind>) {
    return {ScheduleKind::constant, ScheduleKind::inv, ScheduleKind::inv_sqrt};
}
inline std::vector<PlasticityForm> enum_values(schema::tag<PlasticityForm>) {
    return {PlasticityForm::automatic, PlasticityForm::discrete, PlasticityForm::continuous};
}
inline std::vector<LrScaling> enum_values(schema::tag<LrScaling>) { return {LrScaling::none, LrScaling::fan_in}; }
inline std::vector<Precision> enum_values(schema::tag<Precision>) {
    return {Precision::automatic, Precision::fp64, Precision::fp32};
}
inline std::vector<BorderInput> enum_values(schema::tag<BorderInput>) { return {BorderInput::zero, BorderInput::periodic}; }
inline std::vector<Nonlinearity> enum_values(schema::tag<Nonlinearity>) {
    return {Nonlinearity::relu, Nonlinearity::identity};
}
inline std::vector<LayerSchedule> enum_values(schema::tag<LayerSchedule>) {
    return {LayerSchedule::simultaneous, LayerSchedule::layer_by_layer};
}

}  // namespace dynshare

namespace dynshare::schema {

template <> struct Leaf<ConnectivityRef> {
    static constexpr bool custom = true;
    static constexpr bool list = false;
    static void read(const YAML::Node& n, const std::string& path, ConnectivityRef& c) {
        const std::string expected = "grid, full or period:<p> with an integer p";
        const std::string s = scalar(n, path, expected);
        const std::string prefix = "period:";
        if (s == "grid" || s == "full") {
            c.kind = s == "grid" ? Connectivity::grid : Connectivity::full;
            c.period = 0;
        } else if (s.compare(0, prefix.size(), prefix) == 0 && parse_integer(s.substr(prefix.size()), c.period) == std::errc()) {
            c.kind = Connectivity::period;
        } else {
            bad_value(path, n, "expected " + expected);
        }
    }
    static std::string text(const ConnectivityRef& c) {
        if (c.kind == Connectivity::period) return "period:" + std::to_string(c.period);
        return c.kind == Connectivity::grid ? "grid" : "full";
    }
    static void write(YAML::Emitter& out, const ConnectivityRef& c) { out << text(c); }
    static const char* allowed() { return "grid, full, period:<p> (p >= 1)"; }
};

// A stack section that is present and not empty switches the stack model on;
// without it the stack keys are neither written nor attributes.
template <> struct Optional<StackParams> {
    static constexpr bool value = true;
    static bool& enabled(StackParams& s) { return s.enabled; }
};

}  // namespace dynshare::schema
