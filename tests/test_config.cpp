// SPDX-License-Identifier: BSD-3-Clause
// Config schema, validation, overrides and sweep expansion. Every error test
// checks that the one-line message names the key path the user must fix.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "dynshare/config.hpp"
#include "dynshare/errors.hpp"
#include "io/config_yaml.hpp"
#include "io/sweep_config.hpp"
#include "test_helpers.hpp"

namespace dynshare {
namespace {

namespace fs = std::filesystem;

// Runs f and checks that it throws a one-line UserError containing every piece.
template <class F>
testing::AssertionResult user_error(F&& f, const std::vector<std::string>& pieces) {
    try {
        f();
    } catch (const UserError& e) {
        const std::string msg = e.what();
        if (msg.find('\n') != std::string::npos) return testing::AssertionFailure() << "not one line: " << msg;
        for (const std::string& p : pieces)
            if (msg.find(p) == std::string::npos) return testing::AssertionFailure() << "'" << p << "' not in: " << msg;
        return testing::AssertionSuccess() << msg;
    }
    return testing::AssertionFailure() << "no UserError thrown";
}

SimConfig parse(const std::string& text, const std::vector<std::string>& sets = {}) {
    return parse_config(text, sets, "test.yaml");
}

testing::AssertionResult parse_error(const std::string& text, const std::vector<std::string>& pieces) {
    return user_error([&] { parse(text); }, pieces);
}

testing::AssertionResult set_error(const std::vector<std::string>& sets, const std::vector<std::string>& pieces) {
    return user_error([&] { parse("", sets); }, pieces);
}

void expect_same(const SimConfig& a, const SimConfig& b) {
    EXPECT_EQ(a.model, b.model);
    EXPECT_EQ(a.layer.neurons, b.layer.neurons);
    EXPECT_EQ(a.layer.kernel, b.layer.kernel);
    EXPECT_EQ(a.layer.init_mean, b.layer.init_mean);
    EXPECT_EQ(a.layer.init_std, b.layer.init_std);
    EXPECT_EQ(a.dynamics.tau, b.dynamics.tau);
    EXPECT_EQ(a.dynamics.dt, b.dynamics.dt);
    EXPECT_EQ(a.dynamics.alpha, b.dynamics.alpha);
    EXPECT_EQ(a.dynamics.bias, b.dynamics.bias);
    EXPECT_EQ(a.dynamics.integrator, b.dynamics.integrator);
    EXPECT_EQ(a.dynamics.macro_step, b.dynamics.macro_step);
    EXPECT_EQ(a.dynamics.abs_tol, b.dynamics.abs_tol);
    EXPECT_EQ(a.dynamics.rel_tol, b.dynamics.rel_tol);
    EXPECT_EQ(a.plasticity.lr, b.plasticity.lr);
    EXPECT_EQ(a.plasticity.gamma, b.plasticity.gamma);
    EXPECT_EQ(a.plasticity.momentum, b.plasticity.momentum);
    EXPECT_EQ(a.plasticity.schedule, b.plasticity.schedule);
    EXPECT_EQ(a.plasticity.schedule_t0, b.plasticity.schedule_t0);
    EXPECT_EQ(a.plasticity.delay_steps, b.plasticity.delay_steps);
    EXPECT_EQ(a.plasticity.form, b.plasticity.form);
    EXPECT_EQ(a.plasticity.tau_w, b.plasticity.tau_w);
    EXPECT_EQ(a.input.presentation, b.input.presentation);
    EXPECT_EQ(a.input.noise_std, b.input.noise_std);
    EXPECT_EQ(a.run.presentations, b.run.presentations);
    EXPECT_EQ(a.run.record_every, b.run.record_every);
    EXPECT_EQ(a.run.seed, b.run.seed);
    EXPECT_EQ(a.run.stream, b.run.stream);
    EXPECT_EQ(a.run.checkpoint_every, b.run.checkpoint_every);
    EXPECT_EQ(a.stack.enabled, b.stack.enabled);
    EXPECT_EQ(a.stack.input.channels, b.stack.input.channels);
    EXPECT_EQ(a.stack.input.height, b.stack.input.height);
    EXPECT_EQ(a.stack.input.width, b.stack.input.width);
    EXPECT_EQ(a.stack.connectivity, b.stack.connectivity);
    EXPECT_EQ(a.stack.period, b.stack.period);
    EXPECT_EQ(a.stack.schedule, b.stack.schedule);
    EXPECT_EQ(a.stack.normalize, b.stack.normalize);
    ASSERT_EQ(a.stack.layers.size(), b.stack.layers.size());
    for (size_t i = 0; i < a.stack.layers.size(); ++i) {
        const StackLayer &x = a.stack.layers[i], &y = b.stack.layers[i];
        EXPECT_EQ(x.channels, y.channels) << "layer " << i;
        EXPECT_EQ(x.kernel, y.kernel) << "layer " << i;
        EXPECT_EQ(x.stride, y.stride) << "layer " << i;
        EXPECT_EQ(x.padding, y.padding) << "layer " << i;
        EXPECT_EQ(x.nonlinearity, y.nonlinearity) << "layer " << i;
        EXPECT_EQ(x.init_mean, y.init_mean) << "layer " << i;
        EXPECT_EQ(x.init_std, y.init_std) << "layer " << i;
    }
}

// Writes `text` to dir/name (creating subdirectories) and returns the path.
std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
    const fs::path p = dir.path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
}

// ---- defaults and derived values --------------------------------------------

TEST(Config, DefaultsValidateAndDeriveFig4B) {
    const SimConfig c;
    EXPECT_NO_THROW(validate(c));
    expect_same(load_config("", {}), c);
    EXPECT_EQ(c.steps_per_presentation(), 150);  // 0.15 s / 1 ms
    EXPECT_EQ(c.total_steps(), 10000 * 150);
    EXPECT_EQ(c.effective_form(), PlasticityForm::discrete);
    EXPECT_DOUBLE_EQ(c.effective_tau_w(), 0.001 * (1 - 0.95) / 3e-4);
}

TEST(Config, DerivedValues) {
    SimConfig c;
    c.model = ModelKind::ideal;
    EXPECT_EQ(c.steps_per_presentation(), 1);
    EXPECT_EQ(c.total_steps(), c.run.presentations);
    c.dynamics.integrator = Integrator::dopri5;
    EXPECT_EQ(c.effective_form(), PlasticityForm::continuous);
    c.dynamics.integrator = Integrator::exponential;
    EXPECT_EQ(c.effective_form(), PlasticityForm::continuous);
    c.dynamics.integrator = Integrator::rk4;
    EXPECT_EQ(c.effective_form(), PlasticityForm::discrete);
    c.plasticity.form = PlasticityForm::continuous;
    EXPECT_EQ(c.effective_form(), PlasticityForm::continuous);
    c.plasticity.tau_w = 2.5;
    EXPECT_EQ(c.effective_tau_w(), 2.5);
    c.plasticity.tau_w = 0;
    c.plasticity.lr = 0;
    EXPECT_TRUE(std::isinf(c.effective_tau_w()));
}

TEST(Config, EnumSpellings) {
    EXPECT_STREQ(to_string(ModelKind::ei_rate), "ei_rate");
    EXPECT_STREQ(to_string(Integrator::exponential), "exponential");
    EXPECT_STREQ(to_string(ScheduleKind::inv_sqrt), "inv_sqrt");
    EXPECT_STREQ(to_string(PlasticityForm::automatic), "auto");
    EXPECT_STREQ(to_string(Nonlinearity::identity), "identity");
    EXPECT_STREQ(to_string(LayerSchedule::layer_by_layer), "layer_by_layer");
}

// ---- round trip ---------------------------------------------------------------

SimConfig unusual_config() {
    SimConfig c;
    c.model = ModelKind::ei_rate;
    c.layer = {37, 4, 1e-300, 0.1 + 0.2};
    c.dynamics.tau = 0.02;
    c.dynamics.dt = 0.0005;
    c.dynamics.alpha = 1.0 / 3;
    c.dynamics.bias = -2.5e-7;
    c.dynamics.integrator = Integrator::rk4;
    c.dynamics.macro_step = 0.0125;
    c.dynamics.abs_tol = 3e-11;
    c.dynamics.rel_tol = 1e-6;
    c.plasticity = {1e-5, 5e-324, 0.5, ScheduleKind::inv, 7.25, 0, PlasticityForm::continuous, 0.7};
    c.input = {0.1, 0.05};  // 200 steps of 0.5 ms
    c.run = {123, 7, std::numeric_limits<uint64_t>::max(), 42, 9};
    c.stack.enabled = true;
    c.stack.input = {1, 28, 20};
    c.stack.layers = {{8, 5, 1, 2, Nonlinearity::identity, 0.25, -1.0}, {4, 3, 2, 0, Nonlinearity::relu, -0.5, 0.125}};
    c.stack.connectivity = Connectivity::period;
    c.stack.period = 3;
    c.stack.schedule = LayerSchedule::layer_by_layer;
    c.stack.normalize = false;
    return c;
}

TEST(Config, RoundTripIsExact) {
    for (const SimConfig& c : {SimConfig{}, unusual_config()}) {
        const std::string text = to_yaml(c);
        const SimConfig back = parse(text);
        expect_same(back, c);
        EXPECT_EQ(to_yaml(back), text);
    }
}

TEST(Config, RoundTripConnectivityFull) {
    SimConfig c = unusual_config();
    c.stack.connectivity = Connectivity::full;
    c.stack.period = 0;
    expect_same(parse(to_yaml(c)), c);
}

// ---- reading and overrides -------------------------------------------------------

TEST(Config, FileThenOverrides) {
    const SimConfig c = parse("dynamics: {alpha: 3}\nplasticity:\n  gamma: 0.01\n  form: auto\n",
                              {"dynamics.alpha=4", " run.presentations = 20", "layer=null"});
    EXPECT_EQ(c.dynamics.alpha, 4.0);
    EXPECT_EQ(c.plasticity.gamma, 0.01);
    EXPECT_EQ(c.run.presentations, 20);
    EXPECT_EQ(c.layer.kernel, SimConfig{}.layer.kernel);  // a null section keeps the defaults
}

TEST(Config, OverridesCreateAbsentSections) {
    const SimConfig c = parse("model: ideal\n", {"stack.layers=[{channels: 8}, {kernel: 5, padding: 0}]",
                                                 "stack.connectivity=period:4", "stack.input.height=16"});
    EXPECT_TRUE(c.stack.enabled);
    ASSERT_EQ(c.stack.layers.size(), 2u);
    EXPECT_EQ(c.stack.layers[0].channels, 8);
    EXPECT_EQ(c.stack.layers[1].kernel, 5);
    EXPECT_EQ(c.stack.layers[1].channels, StackLayer{}.channels);
    EXPECT_EQ(c.stack.connectivity, Connectivity::period);
    EXPECT_EQ(c.stack.period, 4);
    EXPECT_EQ(c.stack.input.height, 16);
}

TEST(Config, StackSectionPresenceEnablesStack) {
    EXPECT_FALSE(parse("stack:\n").stack.enabled);
    EXPECT_TRUE(parse("stack: {layers: [{}]}").stack.enabled);
    EXPECT_TRUE(parse_error("stack: {}", {"stack.layers"}));
}

TEST(Config, IdealModelHasNoStepSizeLimit) {
    EXPECT_NO_THROW(parse("model: ideal\ndynamics: {dt: 0.05}\ninput: {presentation: 0.1234}"));
}

TEST(Config, ValidCombinations) {
    // rk4: dt < 2.5 tau / sqrt(1 + alpha) = 0.0226 at alpha = 10; 0.015 gives 10 steps per presentation.
    EXPECT_NO_THROW(parse("dynamics: {integrator: rk4, dt: 0.015}"));
    EXPECT_NO_THROW(parse("dynamics: {integrator: rk4, dt: 0.05, alpha: 0}"));
    EXPECT_NO_THROW(parse("dynamics: {integrator: dopri5, dt: 0.05}\nplasticity: {form: continuous}"));
    EXPECT_NO_THROW(parse("dynamics: {integrator: exponential}\nstack: {layers: [{kernel: 34}]}"));
}

// ---- validation errors ---------------------------------------------------------------

TEST(ConfigErrors, Validation) {
    const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
        {{"layer.neurons=1"}, {"layer.neurons = 1", ">= 2"}},
        {{"layer.kernel=0"}, {"layer.kernel = 0: must be an integer >= 1"}},
        {{"layer.init_std=-1"}, {"layer.init_std = -1", ">= 0"}},
        {{"layer.init_mean=.nan"}, {"layer.init_mean"}},
        {{"dynamics.tau=0"}, {"dynamics.tau = 0", "> 0"}},
        {{"dynamics.tau=.nan"}, {"dynamics.tau"}},
        {{"dynamics.dt=-0.001"}, {"dynamics.dt = -0.001"}},
        {{"dynamics.alpha=-1"}, {"dynamics.alpha = -1"}},
        {{"dynamics.dt=0.05"}, {"dynamics.dt = 0.05: the euler integrator needs dt < dynamics.tau = 0.03"}},
        {{"dynamics.dt=0.075", "dynamics.integrator=rk4"}, {"dynamics.dt = 0.075", "rk4", "dynamics.alpha"}},
        {{"dynamics.alpha=100"}, {"dynamics.dt = 0.001", "euler", "dynamics.alpha"}},
        {{"dynamics.macro_step=-1"}, {"dynamics.macro_step"}},
        {{"dynamics.abs_tol=0"}, {"dynamics.abs_tol"}},
        {{"dynamics.rel_tol=0"}, {"dynamics.rel_tol"}},
        {{"plasticity.lr=-1e-4"}, {"plasticity.lr = -", ">= 0"}},
        {{"plasticity.gamma=-1"}, {"plasticity.gamma"}},
        {{"plasticity.momentum=1"}, {"plasticity.momentum = 1", "[0, 1)"}},
        {{"plasticity.momentum=-0.5"}, {"plasticity.momentum"}},
        {{"plasticity.schedule_t0=0"}, {"plasticity.schedule_t0"}},
        {{"plasticity.delay_steps=-1"}, {"plasticity.delay_steps = -1"}},
        {{"plasticity.tau_w=-1"}, {"plasticity.tau_w"}},
        {{"plasticity.form=discrete", "dynamics.integrator=dopri5"}, {"plasticity.form", "dynamics.integrator"}},
        {{"plasticity.form=discrete", "dynamics.integrator=exponential"}, {"plasticity.form", "exponential"}},
        {{"input.presentation=0"}, {"input.presentation = 0"}},
        {{"input.presentation=0.1505"}, {"input.presentation = 0.1505", "dynamics.dt"}},
        {{"input.presentation=0.0004"}, {"input.presentation"}},  // less than one step
        {{"input.presentation=1e300"}, {"input.presentation = 1e+300"}},  // too many steps to count
        {{"input.noise_std=-0.1"}, {"input.noise_std"}},
        {{"run.presentations=0"}, {"run.presentations = 0"}},
        {{"run.presentations=9223372036854775807"}, {"run.presentations", "overflow"}},
        {{"run.record_every=0"}, {"run.record_every"}},
        {{"run.checkpoint_every=0"}, {"run.checkpoint_every"}},
    };
    for (const auto& [sets, pieces] : cases) EXPECT_TRUE(set_error(sets, pieces)) << sets.front();
}

TEST(ConfigErrors, StackValidation) {
    const std::string one = "stack.layers=[{}]";
    const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
        {{"stack.layers=[]"}, {"stack.layers"}},
        {{one, "stack.input.channels=0"}, {"stack.input.channels = 0"}},
        {{one, "stack.input.height=0"}, {"stack.input.height"}},
        {{one, "stack.input.width=-3"}, {"stack.input.width"}},
        {{"stack.layers=[{}, {channels: 0}]"}, {"stack.layers[1].channels = 0"}},
        {{"stack.layers=[{kernel: 0}]"}, {"stack.layers[0].kernel = 0"}},
        {{"stack.layers=[{stride: 0}]"}, {"stack.layers[0].stride = 0"}},
        {{"stack.layers=[{padding: -1}]"}, {"stack.layers[0].padding = -1"}},
        // 32 -> (32 - 5) / 5 + 1 = 6 -> kernel 9 does not fit
        {{"stack.layers=[{kernel: 5, stride: 5, padding: 0}, {kernel: 3}, {kernel: 9, padding: 0}]"},
         {"stack.layers[2].kernel = 9: larger than the layer's padded input 6x6"}},
        {{one, "stack.connectivity=period:0"}, {"stack.connectivity = period:0"}},
    };
    for (const auto& [sets, pieces] : cases) EXPECT_TRUE(set_error(sets, pieces)) << sets.back();
}

// ---- schema errors ----------------------------------------------------------------------

TEST(ConfigErrors, UnknownKeysListTheSection) {
    EXPECT_TRUE(parse_error("modle: ideal", {"unknown key 'modle'", "top-level keys: model, layer"}));
    EXPECT_TRUE(parse_error("layer: {kernell: 3}", {"'layer.kernell'", "layer keys: neurons, kernel"}));
    EXPECT_TRUE(parse_error("stack: {input: {depth: 3}}", {"'stack.input.depth'", "channels, height, width"}));
    EXPECT_TRUE(parse_error("stack: {layers: [{kernal: 3}]}", {"'stack.layers[0].kernal'", "stride"}));
    EXPECT_TRUE(parse_error("layer: {kernel: 3, kernel: 4}", {"duplicate key 'layer.kernel'"}));
}

TEST(ConfigErrors, WrongTypes) {
    EXPECT_TRUE(parse_error("layer: {kernel: abc}", {"layer.kernel = abc", "expected an integer"}));
    EXPECT_TRUE(parse_error("layer: {kernel: 2.5}", {"layer.kernel = 2.5", "expected an integer"}));
    EXPECT_TRUE(parse_error("layer: {kernel: 0x10}", {"layer.kernel = 0x10"}));
    EXPECT_TRUE(parse_error("layer: {kernel: 99999999999}", {"layer.kernel", "out of range"}));
    EXPECT_TRUE(parse_error("layer: {kernel: [3]}", {"layer.kernel = [3]"}));
    EXPECT_TRUE(parse_error("layer: {kernel: }", {"layer.kernel", "expected an integer"}));
    EXPECT_TRUE(parse_error("dynamics: {alpha: ten}", {"dynamics.alpha = ten", "expected a number"}));
    EXPECT_TRUE(parse_error("run: {seed: -1}", {"run.seed = -1", "non-negative integer"}));
    EXPECT_TRUE(parse_error("stack: {normalize: maybe}", {"stack.normalize = maybe", "true or false"}));
    EXPECT_TRUE(parse_error("layer: 3", {"layer = 3", "expected a map"}));
    EXPECT_TRUE(parse_error("stack: {layers: {channels: 3}}", {"stack.layers", "list"}));
    EXPECT_TRUE(parse_error("[1, 2]", {"test.yaml", "expected a map of sections"}));
}

TEST(ConfigErrors, UnknownEnumSpellingsListTheValues) {
    EXPECT_TRUE(parse_error("model: rate", {"model = rate", "ideal, ei_rate"}));
    EXPECT_TRUE(parse_error("dynamics: {integrator: rk45}", {"dynamics.integrator", "euler, rk4, dopri5, exponential"}));
    EXPECT_TRUE(parse_error("plasticity: {schedule: exp}", {"plasticity.schedule", "constant, inv, inv_sqrt"}));
    EXPECT_TRUE(parse_error("plasticity: {form: automatic}", {"plasticity.form", "auto, discrete, continuous"}));
    EXPECT_TRUE(parse_error("stack: {layers: [{nonlinearity: tanh}]}", {"stack.layers[0].nonlinearity", "relu, identity"}));
    EXPECT_TRUE(parse_error("stack: {schedule: greedy}", {"stack.schedule", "simultaneous, layer_by_layer"}));
    EXPECT_TRUE(parse_error("stack: {connectivity: ring}", {"stack.connectivity = ring", "grid, full or period:<p>"}));
    EXPECT_TRUE(parse_error("stack: {connectivity: 'period:x'}", {"stack.connectivity = period:x"}));
}

TEST(ConfigErrors, Overrides) {
    EXPECT_TRUE(set_error({"dynamics.alphaa=3"},
                          {"--set dynamics.alphaa=3: unknown key 'dynamics.alphaa' (dynamics keys: tau, dt, alpha"}));
    EXPECT_TRUE(set_error({"dynamics.alpha"}, {"--set dynamics.alpha", "key.path=value"}));
    EXPECT_TRUE(set_error({"dynamics.alpha=abc"}, {"--set dynamics.alpha=abc", "dynamics.alpha = abc"}));
    EXPECT_TRUE(set_error({"dynamics..alpha=1"}, {"dynamics..alpha"}));
    EXPECT_TRUE(set_error({"nosuch.alpha=1"}, {"unknown key 'nosuch'", "top-level keys"}));
    EXPECT_TRUE(set_error({"dynamics.alpha.x=1"}, {"'dynamics.alpha' is a value"}));
    EXPECT_TRUE(set_error({"stack.layers.kernel=3"}, {"'stack.layers' is a list"}));
    EXPECT_TRUE(set_error({"stack.layers=[{channels: 8}"}, {"--set stack.layers", "bad YAML value"}));
    EXPECT_TRUE(set_error({"stack.layers=[{chanels: 8}]"}, {"--set", "'stack.layers[0].chanels'"}));
    EXPECT_TRUE(user_error([] { parse("dynamics: 3", {"dynamics.alpha=1"}); }, {"'dynamics'", "not a map"}));
}

TEST(ConfigErrors, Files) {
    TempDir dir;
    const std::string missing = dir.file("x.yaml");
    EXPECT_TRUE(user_error([&] { load_config(missing, {}); },
                           {"cannot read config file '" + missing + "': No such file or directory"}));
    const std::string bad = write_file(dir, "bad.yaml", "layer:\n  kernel: [3,\n");
    EXPECT_TRUE(user_error([&] { load_config(bad, {}); }, {bad + ":3:", "YAML syntax error"}));
    const std::string wrong = write_file(dir, "wrong.yaml", "layer:\n  kernel: 0\n");
    EXPECT_TRUE(user_error([&] { load_config(wrong, {}); }, {wrong + ": layer.kernel = 0"}));
    EXPECT_EQ(load_config(wrong, {"layer.kernel=3"}).layer.kernel, 3);
}

// ---- sweeps ---------------------------------------------------------------------------

const char* const kBase = "run: {presentations: 100, seed: 5}\n";

TEST(Sweep, GridOrderPointMajorTrialMinor) {
    TempDir dir;
    write_file(dir, "base.yaml", kBase);
    const std::string path = write_file(dir, "sweep.yaml",
                                            "base: base.yaml\n"
                                            "set: {run.presentations: 2000}\n"
                                            "grid: {dynamics.alpha: [3, 10], plasticity.gamma: [0.1, 0.01]}\n"
                                            "trials: 2\n");
    const SweepSpec s = load_sweep(path, {"input.noise_std=0.5"});
    EXPECT_EQ(s.keys, (std::vector<std::string>{"dynamics.alpha", "plasticity.gamma"}));
    EXPECT_EQ(s.base_seed, 5u);
    ASSERT_EQ(s.runs.size(), 8u);
    const double alpha[] = {3, 3, 10, 10}, gamma[] = {0.1, 0.01, 0.1, 0.01};
    for (int64_t i = 0; i < 8; ++i) {
        const SweepRun& r = s.runs[i];
        EXPECT_EQ(r.index, i);
        EXPECT_EQ(r.point, i / 2);
        EXPECT_EQ(r.trial, i % 2);
        EXPECT_EQ(r.config.dynamics.alpha, alpha[i / 2]);
        EXPECT_EQ(r.config.plasticity.gamma, gamma[i / 2]);
        EXPECT_EQ(r.config.run.presentations, 2000);
        EXPECT_EQ(r.config.input.noise_std, 0.5);
        EXPECT_EQ(r.seed, derive_run_seed(5, i));
        EXPECT_EQ(r.config.run.seed, r.seed);
    }
    EXPECT_EQ(s.runs[5].values, (KeyValues{{"dynamics.alpha", "10"}, {"plasticity.gamma", "0.1"}}));
}

TEST(Sweep, SeedsDistinctAndDeterministic) {
    TempDir dir;
    write_file(dir, "base.yaml", kBase);
    const std::string path = write_file(dir, "sweep.yaml", "base: base.yaml\ngrid: {layer.kernel: [3, 4, 5]}\ntrials: 10\n");
    const SweepSpec a = load_sweep(path, {}), b = load_sweep(path, {});
    std::set<uint64_t> seeds;
    for (size_t i = 0; i < a.runs.size(); ++i) {
        seeds.insert(a.runs[i].seed);
        EXPECT_EQ(a.runs[i].seed, b.runs[i].seed);
    }
    EXPECT_EQ(seeds.size(), 30u);
    // Pinned: the first splitmix64 output from state 0. Changing it breaks old sweeps.
    EXPECT_EQ(derive_run_seed(0, 0), 0xE220A8397B1DCDAFull);
    EXPECT_NE(derive_run_seed(1, 0), derive_run_seed(0, 0));
}

TEST(Sweep, ListsAreZippedAndCrossedWithGrid) {
    TempDir dir;
    write_file(dir, "base.yaml", kBase);
    const std::string path = write_file(dir, "sweep.yaml",
                                            "base: base.yaml\n"
                                            "grid: {dynamics.alpha: [3, 10]}\n"
                                            "lists: {layer.kernel: [3, 6], plasticity.gamma: [0.1, 0.01]}\n");
    const SweepSpec s = load_sweep(path, {});
    EXPECT_EQ(s.keys, (std::vector<std::string>{"dynamics.alpha", "layer.kernel", "plasticity.gamma"}));
    ASSERT_EQ(s.runs.size(), 4u);
    const double alpha[] = {3, 3, 10, 10}, gamma[] = {0.1, 0.01, 0.1, 0.01};
    const int kernel[] = {3, 6, 3, 6};
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(s.runs[i].config.dynamics.alpha, alpha[i]);
        EXPECT_EQ(s.runs[i].config.layer.kernel, kernel[i]);
        EXPECT_EQ(s.runs[i].config.plasticity.gamma, gamma[i]);
    }
}

TEST(Sweep, RunIsReproducedBySimulateWithOverrides) {
    TempDir dir;
    const std::string base = write_file(dir, "base.yaml", kBase);
    const std::string path = write_file(dir, "sweep.yaml",
                                            "base: base.yaml\n"
                                            "grid: {stack.layers: [[{channels: 4}], [{channels: 8, kernel: 5}]]}\n"
                                            "trials: 2\n");
    const SweepSpec s = load_sweep(path, {});
    EXPECT_EQ(s.base_path, base);
    for (const SweepRun& r : s.runs) {
        std::vector<std::string> sets;
        for (const auto& [key, value] : r.values) sets.push_back(key + "=" + value);
        sets.push_back("run.seed=" + std::to_string(r.seed));
        expect_same(load_config(base, sets), r.config);
    }
    EXPECT_EQ(s.runs[3].config.stack.layers.at(0).kernel, 5);
}

TEST(Sweep, ResolvedTextReloadsToTheSameRuns) {
    TempDir dir;
    write_file(dir, "configs/base.yaml", kBase);
    const std::string path = write_file(dir, "configs/sweep.yaml",
                                            "base: base.yaml\nset: {layer.neurons: 10}\n"
                                            "grid: {dynamics.alpha: [1, 2]}\ntrials: 3\n");
    const SweepSpec a = load_sweep(path, {"run.seed=9"});
    const SweepSpec b = load_sweep(write_file(dir, "resolved.yaml", a.text), {});
    ASSERT_EQ(a.runs.size(), b.runs.size());
    EXPECT_EQ(b.base_seed, 9u);
    for (size_t i = 0; i < a.runs.size(); ++i) EXPECT_EQ(to_yaml(a.runs[i].config), to_yaml(b.runs[i].config));
}

TEST(SweepErrors, NameTheKey) {
    TempDir dir;
    write_file(dir, "base.yaml", kBase);
    const auto sweep_error = [&](const std::string& text, const std::vector<std::string>& pieces) {
        const std::string path = write_file(dir, "sweep.yaml", text);
        return user_error([&] { load_sweep(path, {}); }, pieces);
    };
    EXPECT_TRUE(sweep_error("base: base.yaml\ntrails: 3\n", {"sweep.yaml", "unknown key 'trails'", "base, set, grid, lists, trials"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\ngrid: {dynamics.alphaa: [1]}\n", {"grid", "'dynamics.alphaa'", "dynamics keys"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\nlists: {layr.kernel: [1]}\n", {"lists", "'layr'"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\nset: {run.presentation: 3}\n", {"set", "'run.presentation'"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\ngrid: {dynamics.alpha: []}\n", {"grid.dynamics.alpha", "non-empty list"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\ngrid: {dynamics.alpha: 3}\n", {"grid.dynamics.alpha", "list"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\ngrid: {dynamics.alpha: [x]}\n", {"dynamics.alpha = x", "number"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\nlists: {layer.kernel: [3, 6], plasticity.gamma: [0.1]}\n",
                            {"lists.plasticity.gamma", "same length"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\ngrid: {layer.kernel: [3]}\nlists: {layer.kernel: [4]}\n",
                            {"lists.layer.kernel", "grid"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\ngrid: {run.seed: [1, 2]}\n", {"grid.run.seed"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\ntrials: 0\n", {"trials = 0", ">= 1"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\ntrials: many\n", {"trials = many"}));
    EXPECT_TRUE(sweep_error("base: nope.yaml\n", {"base = nope.yaml", "no such file"}));
    EXPECT_TRUE(sweep_error("grid: {}\n", {"base"}));
    EXPECT_TRUE(sweep_error("base: base.yaml\ngrid: {dynamics.dt: [0.001, 0.05]}\ntrials: 3\n",
                            {"run 3 (dynamics.dt=0.05)", "dynamics.dt = 0.05", "euler"}));
    EXPECT_TRUE(user_error([&] { load_sweep(dir.file("base.yaml"), {"run.seedd=1"}); }, {"base.yaml", "unknown key 'run'"}));
    EXPECT_TRUE(user_error([&] { load_sweep(dir.file("none.yaml"), {}); }, {"cannot read sweep file", "none.yaml"}));
    write_file(dir, "sweep.yaml", "base: base.yaml\n");
    EXPECT_TRUE(user_error([&] { load_sweep(dir.file("sweep.yaml"), {"dynamics.alphaa=1"}); }, {"--set dynamics.alphaa=1", "unknown key"}));
}

}  // namespace
}  // namespace dynshare
