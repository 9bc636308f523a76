// SPDX-License-Identifier: BSD-3-Clause
// The sleep phase over stacked LC layers (Section 4.1): module structure,
// pattern periodicity, fixed points, Eq. 5, the reduction to the single-layer
// model, thread independence, resume, weight files and bad input.
#include <gtest/gtest.h>
#include <omp.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/inputs.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/plan.hpp"
#include "dynshare/snr.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/single_layer.hpp"
#include "dynshare/sleep_phase.hpp"
#include "io/config_yaml.hpp"
#include "io/h5.hpp"
#include "io/stack_file.hpp"
#include "test_helpers.hpp"

namespace dynshare {
namespace {

StackLayer layer(int channels, int kernel, int stride, int padding, Nonlinearity phi = Nonlinearity::relu) {
    StackLayer l;
    l.channels = channels;
    l.kernel = kernel;
    l.stride = stride;
    l.padding = padding;
    l.nonlinearity = phi;
    l.init_mean = 1.0;
    l.init_std = 0.5;
    return l;
}

SimConfig stack_config(ModelKind model, std::vector<StackLayer> layers, int channels = 2, int size = 12) {
    SimConfig c;
    c.model = model;
    c.stack.enabled = true;
    c.stack.input = StackInput{channels, size, size};
    c.stack.layers = std::move(layers);
    c.run.presentations = model == ModelKind::ideal ? 200 : 6;
    c.run.record_every = model == ModelKind::ideal ? 20 : 150;
    c.run.seed = 7;
    if (model == ModelKind::ideal) {
        c.plasticity.lr = 0.01;
        c.plasticity.schedule = ScheduleKind::inv;
        c.plasticity.schedule_t0 = 20;
        c.plasticity.delay_steps = 0;
        c.plasticity.momentum = 0.9;
    }
    validate(c);
    return c;
}

struct Collect : RunObserver {
    std::vector<int64_t> steps;
    std::vector<std::vector<double>> nls, mas;
    std::vector<RunState> checkpoints;
    void on_record(int64_t step, double, const std::vector<double>& a, const std::vector<double>& b) override {
        steps.push_back(step);
        nls.push_back(a);
        mas.push_back(b);
    }
    void on_checkpoint(const RunState& s) override { checkpoints.push_back(s); }
};

// The engine on a stacked plan with the random key (seed, stream).
RunResult run_stack(SimConfig cfg, const RunPlan& plan, uint64_t seed, uint64_t stream,
                    const std::vector<std::vector<double>>& w, RunObserver& obs, const RunState* resume = nullptr) {
    cfg.run.seed = seed;
    cfg.run.stream = stream;
    return run_engine(cfg, plan, w, obs, resume);
}

std::vector<std::vector<double>> random_weights(const SimConfig& cfg, const std::vector<LcGeometry>& g) {
    std::vector<std::vector<double>> w;
    const RngKey key = make_key(cfg.run.seed, cfg.run.stream);
    for (size_t l = 0; l < g.size(); ++l) w.push_back(stack_initial_weights(cfg.stack.layers[l], g[l], int(l), key));
    return w;
}

RunResult run(const SimConfig& cfg, const std::vector<std::vector<double>>& w, RunObserver& obs,
                   const RunState* resume = nullptr) {
    const auto g = stack_geometry(cfg.stack);
    const RunPlan plan = make_stack_plan(cfg.stack, g);
    return run_stack(cfg, plan, cfg.run.seed, cfg.run.stream, w, obs, resume);
}

// Weights where every neuron of a module copies the module's first neuron.
std::vector<std::vector<double>> module_identical(const RunPlan& plan, std::vector<std::vector<double>> w) {
    for (size_t l = 0; l < plan.layers.size(); ++l) {
        const auto& pl = plan.layers[l];
        const int64_t k = pl.g.fan_in();
        for (int64_t m = 0; m < pl.modules(); ++m)
            for (int64_t s = pl.module_offsets[m] + 1; s < pl.module_offsets[m + 1]; ++s)
                std::copy_n(&w[l][pl.order[pl.module_offsets[m]] * k], k, &w[l][pl.order[s] * k]);
    }
    return w;
}

double max_module_spread(const LayerPlan& pl, const std::vector<double>& w) {
    const int64_t k = pl.g.fan_in();
    double worst = 0.0;
    for (int64_t m = 0; m < pl.modules(); ++m) {
        const double* ref = &w[pl.order[pl.module_offsets[m]] * k];
        for (int64_t s = pl.module_offsets[m] + 1; s < pl.module_offsets[m + 1]; ++s)
            for (int64_t j = 0; j < k; ++j) worst = std::max(worst, std::abs(w[pl.order[s] * k + j] - ref[j]));
    }
    return worst;
}

template <class F>
std::string user_error(F&& f) {
    try {
        f();
    } catch (const UserError& e) {
        return e.what();
    }
    return "<no UserError>";
}

// ---- geometry and modules ------------------------------------------------------

TEST(Stack, ModulesAndBorders) {
    SimConfig cfg = stack_config(ModelKind::ei_rate, {layer(3, 3, 1, 1), layer(4, 3, 2, 1)}, 2, 10);
    const auto g = stack_geometry(cfg.stack);
    ASSERT_EQ(g.size(), 2u);
    EXPECT_EQ(g[0].h_out(), 10);
    EXPECT_EQ(g[1].h_out(), 5);
    const RunPlan plan = make_stack_plan(cfg.stack, g);
    EXPECT_EQ(plan.pattern_period, 3);
    EXPECT_EQ(plan.layers[0].modules(), 3 * 9);
    EXPECT_EQ(plan.layers[1].in_period, 3);
    EXPECT_EQ(plan.layers[1].modules(), 4 * 9);
    // Module of (c, y, x) is (c, y mod 3, x mod 3); every neuron appears once.
    for (const auto& pl : plan.layers) {
        std::vector<int> seen(pl.g.neurons(), 0);
        for (int64_t m = 0; m < pl.modules(); ++m) {
            const int64_t first = pl.order[pl.module_offsets[m]], hw = int64_t(pl.g.h_out()) * pl.g.w_out();
            for (int64_t s = pl.module_offsets[m]; s < pl.module_offsets[m + 1]; ++s) {
                const int64_t n = pl.order[s];
                ++seen[n];
                EXPECT_EQ(n / hw, first / hw);
                EXPECT_EQ((n % hw) / pl.g.w_out() % 3, (first % hw) / pl.g.w_out() % 3);
                EXPECT_EQ((n % hw) % pl.g.w_out() % 3, (first % hw) % pl.g.w_out() % 3);
            }
        }
        for (int v : seen) EXPECT_EQ(v, 1);
    }
    // full: one module per channel; period:2 -> 4 modules per channel.
    cfg.stack.connectivity = Connectivity::full;
    EXPECT_EQ(make_stack_plan(cfg.stack, g).layers[0].modules(), 3);
    cfg.stack.connectivity = Connectivity::period;
    cfg.stack.period = 2;
    EXPECT_EQ(make_stack_plan(cfg.stack, g).layers[0].modules(), 3 * 4);
}

TEST(Stack, BadGeometryIsRejected) {
    SimConfig cfg = stack_config(ModelKind::ei_rate, {layer(2, 3, 1, 1)}, 2, 8);
    cfg.stack.layers = {layer(2, 11, 1, 1)};
    std::string msg = user_error([&] { stack_geometry(cfg.stack); });
    EXPECT_NE(msg.find("stack.layers[0].kernel = 11"), std::string::npos) << msg;
    EXPECT_NE(msg.find("10x10"), std::string::npos) << msg;
    // A 5x5 grid layer (period 5) feeding a 3x3 one: members 3 apart, input period 5.
    cfg.stack.layers = {layer(2, 5, 1, 2), layer(2, 3, 1, 1)};
    msg = user_error([&] { stack_geometry(cfg.stack); });
    EXPECT_NE(msg.find("stack.layers[1].stride = 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("multiple of 5"), std::string::npos) << msg;
    // ... which a stride of 5 fixes.
    cfg.stack.layers = {layer(2, 5, 1, 2), layer(2, 3, 5, 1)};
    EXPECT_NO_THROW(stack_geometry(cfg.stack));
    // period:2 after a stride-1 layer is fine; period:2 with stride 3 in layer 1 too (2 | 6).
    cfg.stack.connectivity = Connectivity::period;
    cfg.stack.period = 2;
    cfg.stack.layers = {layer(2, 3, 1, 1), layer(2, 3, 3, 1)};
    EXPECT_NO_THROW(stack_geometry(cfg.stack));
}

// ---- pattern periodicity ---------------------------------------------------------

struct InputCheck : Collect {
    const RunPlan* plan = nullptr;
    int64_t checked = 0, failures = 0, distinct = 0;
    bool wants_inputs() const override { return true; }
    void on_inputs(int64_t, int l, const double* x) override {
        const LayerPlan& pl = plan->layers[l];
        const int64_t k = pl.g.fan_in();
        // All non-border members of a module see the same input.
        for (size_t m = 0; m + 1 < pl.snr_offsets.size(); ++m) {
            const double* ref = x + pl.snr_rows[pl.snr_offsets[m]] * k;
            for (int64_t r = pl.snr_offsets[m] + 1; r < pl.snr_offsets[m + 1]; ++r) {
                ++checked;
                if (!std::equal(ref, ref + k, x + pl.snr_rows[r] * k)) ++failures;
            }
            if (m > 0 && !std::equal(ref, ref + k, x + pl.snr_rows[pl.snr_offsets[m - 1]] * k)) ++distinct;
        }
    }
};

TEST(Stack, PatternPeriodicityIsPreserved) {
    for (Nonlinearity phi : {Nonlinearity::relu, Nonlinearity::identity}) {
        SimConfig cfg = stack_config(ModelKind::ei_rate,
                                     {layer(3, 3, 1, 1, phi), layer(3, 3, 2, 1, phi), layer(2, 3, 1, 1, phi)}, 2, 16);
        cfg.run.presentations = 3;
        const auto g = stack_geometry(cfg.stack);
        const RunPlan plan = make_stack_plan(cfg.stack, g);
        InputCheck obs;
        obs.plan = &plan;
        run_stack(cfg, plan, 7, 0, random_weights(cfg, g), obs);
        EXPECT_GT(obs.checked, 1000);
        EXPECT_EQ(obs.failures, 0);
        EXPECT_GT(obs.distinct, 0);
    }
}

// All members of a module, border neurons included: their rows in the
// plan's sorted order (module_offsets delimit the modules).
struct WholeModuleCheck : Collect {
    const RunPlan* plan = nullptr;
    int64_t checked = 0, failures = 0;
    bool wants_inputs() const override { return true; }
    void on_inputs(int64_t, int l, const double* x) override {
        const LayerPlan& pl = plan->layers[l];
        const int64_t k = pl.g.fan_in();
        for (int64_t m = 0; m < pl.modules(); ++m) {
            const double* ref = x + pl.module_offsets[m] * k;
            for (int64_t s = pl.module_offsets[m] + 1; s < pl.module_offsets[m + 1]; ++s) {
                ++checked;
                if (!std::equal(ref, ref + k, x + s * k)) ++failures;
            }
        }
    }
};

// stack.border = periodic: border neurons read the pattern's continuation,
// so every member of a module (padding 1 and 2, a stride-2 layer) sees the
// same input; with zero padding the border members differ. Under Eq. 4 a
// module whose members share x keeps its mean weight exactly (the sum over
// the module of (z_i - zbar) x vanishes), so the means are conserved to
// rounding with periodic borders and drift with zero ones.
TEST(Stack, PeriodicBordersGiveWholeModulesOneInput) {
    for (BorderInput border : {BorderInput::zero, BorderInput::periodic}) {
        SimConfig cfg = stack_config(ModelKind::ideal, {layer(3, 3, 1, 1), layer(3, 3, 2, 1), layer(2, 3, 1, 2)}, 2, 16);
        cfg.stack.border = border;
        cfg.run.presentations = 40;
        const auto g = stack_geometry(cfg.stack);
        const RunPlan plan = make_stack_plan(cfg.stack, g);
        WholeModuleCheck obs;
        obs.plan = &plan;
        const auto w0 = random_weights(cfg, g);
        const RunResult r = run_stack(cfg, plan, 7, 0, w0, obs);
        ASSERT_EQ(r.status, RunStatus::complete);
        EXPECT_GT(obs.checked, 1000);
        if (border == BorderInput::periodic) EXPECT_EQ(obs.failures, 0);
        else EXPECT_GT(obs.failures, 0);
        double worst = 0.0;
        for (size_t l = 0; l < g.size(); ++l) {
            const auto& pl = plan.layers[l];
            const int64_t k = pl.g.fan_in();
            for (int64_t m = 0; m < pl.modules(); ++m)
                for (int64_t j = 0; j < k; ++j) {
                    double before = 0.0, after = 0.0;
                    for (int64_t s = pl.module_offsets[m]; s < pl.module_offsets[m + 1]; ++s) {
                        before += w0[l][pl.order[s] * k + j];
                        after += r.state.layers[l].w[pl.order[s] * k + j];
                    }
                    worst = std::max(worst, std::abs(after - before) / double(pl.module_offsets[m + 1] - pl.module_offsets[m]));
                }
        }
        // Weights are O(1); 40 iterations of rounding stay far below 1e-10.
        if (border == BorderInput::periodic) EXPECT_LT(worst, 1e-10);
        else EXPECT_GT(worst, 1e-3);
    }
    // An input smaller than one period cannot be continued periodically.
    SimConfig tiny = stack_config(ModelKind::ideal, {layer(2, 5, 1, 2)}, 1, 4);
    tiny.stack.border = BorderInput::periodic;
    EXPECT_NE(user_error([&] { stack_geometry(tiny.stack); make_stack_plan(tiny.stack, stack_geometry(tiny.stack)); })
                  .find("stack.border = periodic"),
              std::string::npos);
}

// ---- fixed point and Eq. 5 -------------------------------------------------------

TEST(Stack, IdenticalWeightsInModulesAreAFixedPoint) {
    for (ModelKind model : {ModelKind::ideal, ModelKind::ei_rate}) {
        // padding 0: every member of a module sees exactly the same input.
        SimConfig cfg = stack_config(model, {layer(3, 3, 1, 0), layer(2, 3, 1, 0)}, 2, 12);
        cfg.plasticity.gamma = 0.1;
        cfg.run.presentations = model == ModelKind::ideal ? 50 : 4;
        const auto g = stack_geometry(cfg.stack);
        const RunPlan plan = make_stack_plan(cfg.stack, g);
        const auto w0 = module_identical(plan, random_weights(cfg, g));
        Collect obs;
        const RunResult r = run_stack(cfg, plan, 7, 0, w0, obs);
        ASSERT_EQ(r.status, RunStatus::complete);
        for (size_t l = 0; l < g.size(); ++l) {
            const auto& w = r.state.layers[l].w;
            // Members stay identical: no spread appears.
            EXPECT_LE(max_module_spread(plan.layers[l], w), 1e-12) << to_string(model) << " layer " << l;
            double moved = 0.0;
            for (size_t i = 0; i < w.size(); ++i) moved = std::max(moved, std::abs(w[i] - w0[l][i]));
            // Eq. 4 (ideal): z_i = mean z and w = w_init, nothing moves. Eq. 8
            // (ei_rate): r - b = z / (1 + alpha) is not 0, so the common mode of a
            // module moves (anti-Hebbian, held by gamma) while the spread stays 0.
            if (model == ModelKind::ideal) {
                EXPECT_LE(moved, 1e-12) << "layer " << l;
            }
        }
    }
}

// Collects, for every module with >= 2 members, C = mean x x^T of its inputs.
struct CovarianceObserver : Collect {
    const RunPlan* plan = nullptr;
    std::vector<std::vector<Eigen::MatrixXd>> C;  // [layer][module]
    int64_t count = 0;
    bool wants_inputs() const override { return true; }
    void on_inputs(int64_t, int l, const double* x) override {
        const LayerPlan& pl = plan->layers[l];
        const int64_t k = pl.g.fan_in();
        if (C.size() < plan->layers.size()) C.resize(plan->layers.size());
        if (C[l].empty()) C[l].assign(pl.modules(), Eigen::MatrixXd::Zero(k, k));
        for (int64_t m = 0; m < pl.modules(); ++m) {
            Eigen::Map<const Eigen::VectorXd> v(x + pl.module_offsets[m] * k, k);
            C[l][m] += v * v.transpose();
        }
        if (l == 0) ++count;
    }
};

TEST(Stack, ModulesReachTheEq5FixedPoint) {
    // Ideal model (Eq. 4), no padding, so each module's inputs are shared and
    // Eq. 5 applies per module with C from the patterns that module saw:
    //   w_i* = mean_j w0_j + gamma (C + gamma I)^-1 (w0_i - mean_j w0_j).
    SimConfig cfg = stack_config(ModelKind::ideal, {layer(2, 3, 1, 0), layer(2, 3, 1, 0, Nonlinearity::identity)}, 1, 11);
    cfg.plasticity.gamma = 0.3;
    cfg.plasticity.lr = 4.0;  // eta = lr / (t0 + t): 0.02 falling to 0.0012
    cfg.plasticity.schedule_t0 = 200;
    cfg.plasticity.momentum = 0.0;
    cfg.plasticity.schedule = ScheduleKind::inv;
    cfg.run.presentations = 3000;
    cfg.run.record_every = 3000;
    const auto g = stack_geometry(cfg.stack);
    const RunPlan plan = make_stack_plan(cfg.stack, g);
    const auto w0 = random_weights(cfg, g);
    CovarianceObserver obs;
    obs.plan = &plan;
    const RunResult r = run_stack(cfg, plan, 7, 0, w0, obs);
    ASSERT_EQ(r.status, RunStatus::complete);
    for (size_t l = 0; l < g.size(); ++l) {
        const auto& pl = plan.layers[l];
        const int64_t k = pl.g.fan_in();
        double err = 0.0, spread0 = 0.0, spread = 0.0;
        for (int64_t m = 0; m < pl.modules(); ++m) {
            const int64_t a = pl.module_offsets[m], n = pl.module_offsets[m + 1] - a;
            if (n < 2) continue;
            const Eigen::MatrixXd C = obs.C[l][m] / double(obs.count);
            Eigen::VectorXd mean0 = Eigen::VectorXd::Zero(k);
            for (int64_t s = a; s < a + n; ++s) mean0 += Eigen::Map<const Eigen::VectorXd>(&w0[l][pl.order[s] * k], k);
            mean0 /= double(n);
            const Eigen::MatrixXd A = C + cfg.plasticity.gamma * Eigen::MatrixXd::Identity(k, k);
            for (int64_t s = a; s < a + n; ++s) {
                const Eigen::VectorXd d0 = Eigen::Map<const Eigen::VectorXd>(&w0[l][pl.order[s] * k], k) - mean0;
                const Eigen::VectorXd pred = mean0 + cfg.plasticity.gamma * A.ldlt().solve(d0);
                const Eigen::VectorXd got = Eigen::Map<const Eigen::VectorXd>(&r.state.layers[l].w[pl.order[s] * k], k);
                err += (got - pred).squaredNorm();
                spread0 += d0.squaredNorm();
                spread += (got - mean0).squaredNorm();
            }
        }
        // The spread shrinks (layer 0: C ~ I, to ~5%; layer 1: its C, relu
        // patterns of a 9-dimensional patch, has small eigenvalues, so Eq. 5
        // keeps about half), and what is left is Eq. 5's gamma bias (measured:
        // relative distances 0.06 and 0.02).
        EXPECT_LT(spread, (l == 0 ? 0.1 : 0.6) * spread0) << "layer " << l;
        EXPECT_LT(std::sqrt(err / spread), 0.1) << "layer " << l << ": relative distance to Eq. 5";
    }
}

// ---- reduction to the single-layer model -----------------------------------------

TEST(Stack, FullOneLayerStackIsTheSingleLayerModel) {
    // 1 input channel, an m x m grid of disjoint k x k receptive fields (stride
    // k, no padding), connectivity full: every neuron sees the same k x k patch
    // (P0 = k), which is the single layer's x; the draws are the same too.
    for (ModelKind model : {ModelKind::ei_rate, ModelKind::ideal}) {
        for (double noise : {0.0, 0.3}) {
            const int k = 3, m = 4;
            SimConfig single;
            single.model = model;
            single.layer.neurons = m * m;
            single.layer.kernel = k;
            single.layer.init_mean = 1.0;
            single.layer.init_std = 0.7;
            single.input.noise_std = noise;
            single.run.presentations = model == ModelKind::ideal ? 100 : 5;
            single.run.record_every = model == ModelKind::ideal ? 10 : 150;
            single.run.seed = 3;
            SimConfig st = single;
            st.stack.enabled = true;
            st.stack.input = StackInput{1, m * k, m * k};
            StackLayer l = layer(1, k, k, 0);
            l.init_mean = 1.0;
            l.init_std = 0.7;
            st.stack.layers = {l};
            st.stack.connectivity = Connectivity::full;
            validate(st);

            RecordingObserver so;
            const RunResult sr = run_single_layer(single, so);
            Collect co;
            const auto g = stack_geometry(st.stack);
            const RunResult r = run(st, random_weights(st, g), co);
            ASSERT_EQ(sr.status, RunStatus::complete);
            ASSERT_EQ(r.status, RunStatus::complete);
            ASSERT_EQ(sr.state.layers[0].w.size(), r.state.layers[0].w.size());
            double diff = 0.0;
            for (size_t i = 0; i < sr.state.layers[0].w.size(); ++i) diff = std::max(diff, std::abs(sr.state.layers[0].w[i] - r.state.layers[0].w[i]));
            EXPECT_EQ(diff, 0.0) << to_string(model) << " noise " << noise;
            ASSERT_EQ(so.values.size(), co.nls.size());
            for (size_t i = 0; i < so.values.size(); ++i) EXPECT_EQ(so.values[i][0], co.nls[i][0]) << i;
        }
    }
}

// ---- determinism, resume, files -------------------------------------------------

TEST(Stack, ThreadCountDoesNotChangeResults) {
    SimConfig cfg = stack_config(ModelKind::ei_rate, {layer(4, 3, 1, 1), layer(4, 3, 2, 1), layer(3, 3, 1, 1)}, 2, 24);
    cfg.input.noise_std = 0.1;
    cfg.run.presentations = 3;
    cfg.run.record_every = 50;  // records inside presentations too
    const auto g = stack_geometry(cfg.stack);
    const auto w = random_weights(cfg, g);
    const int before = omp_get_max_threads();
    std::vector<RunResult> res;
    std::vector<Collect> obs(2);
    for (int t : {1, 2}) {
        omp_set_num_threads(t);
        res.push_back(run(cfg, w, obs[t - 1]));
    }
    omp_set_num_threads(before);
    for (size_t l = 0; l < g.size(); ++l) {
        EXPECT_EQ(res[0].state.layers[l].w, res[1].state.layers[l].w);
        EXPECT_EQ(res[0].state.layers[l].r, res[1].state.layers[l].r);
        EXPECT_EQ(res[0].state.layers[l].r_inh, res[1].state.layers[l].r_inh);
    }
    EXPECT_EQ(obs[0].nls, obs[1].nls);
    EXPECT_EQ(obs[0].mas, obs[1].mas);
}

// An observer that wants no states (the trainer's sleep phase) gets no
// on_begin / on_checkpoint calls and a final state of weights and rates only,
// and the run is the same to the bit as one observed with every state, for
// the per-presentation path and blocks, with checkpoints falling inside, in
// fp64 (whose final weights are built in w0's storage, engine.cpp's
// final_weights) and fp32.
TEST(Stack, AnObserverWithoutStatesGetsTheSameWeightsWithoutCopies) {
    struct NoStates : Collect {
        int begins = 0;
        void on_begin(const RunState&) override { ++begins; }
        void on_checkpoint(const RunState& s) override { checkpoints.push_back(s); }
        bool wants_states() const override { return false; }
    };
    for (int64_t block : {1, 4, -4}) {  // -4: block 4 in fp32
        SimConfig cfg = stack_config(ModelKind::ei_rate, {layer(4, 3, 1, 1), layer(3, 3, 2, 1)}, 2, 16);
        cfg.run.presentations = 9;
        cfg.run.checkpoint_every = 2;
        cfg.dynamics.block = std::abs(block);
        if (block < 0) cfg.run.precision = Precision::fp32;
        validate(cfg);
        const auto w = random_weights(cfg, stack_geometry(cfg.stack));
        Collect all;
        NoStates none;
        const RunResult a = run(cfg, w, all);
        const RunResult b = run(cfg, w, none);
        EXPECT_EQ(all.checkpoints.size(), 4u) << "block " << block;
        EXPECT_EQ(none.begins, 0);
        EXPECT_TRUE(none.checkpoints.empty());
        EXPECT_EQ(all.nls, none.nls) << "block " << block;
        ASSERT_EQ(a.state.layers.size(), b.state.layers.size());
        for (size_t l = 0; l < a.state.layers.size(); ++l) {
            EXPECT_EQ(a.state.layers[l].w, b.state.layers[l].w) << "layer " << l << ", block " << block;
            EXPECT_EQ(a.state.layers[l].r, b.state.layers[l].r);
            EXPECT_EQ(a.state.layers[l].r_inh, b.state.layers[l].r_inh);
            std::vector<double> w0 = w[l];  // held in the run's precision
            if (block < 0)
                for (double& x : w0) x = static_cast<float>(x);
            EXPECT_EQ(a.state.layers[l].w0, w0);
            EXPECT_TRUE(b.state.layers[l].w0.empty() && b.state.layers[l].v.empty());
        }
    }
}

TEST(Stack, LayerByLayerFreezesInactiveLayers) {
    SimConfig cfg = stack_config(ModelKind::ei_rate, {layer(2, 3, 1, 1), layer(2, 3, 1, 1), layer(2, 3, 1, 1)}, 1, 9);
    cfg.stack.schedule = LayerSchedule::layer_by_layer;
    cfg.plasticity.delay_steps = 0;
    cfg.run.presentations = 6;
    cfg.run.checkpoint_every = 2;
    const auto g = stack_geometry(cfg.stack);
    const auto w0 = random_weights(cfg, g);
    Collect obs;
    const RunResult r = run(cfg, w0, obs);
    ASSERT_EQ(obs.checkpoints.size(), 2u);  // after 2 and 4 presentations
    const RunState& a = obs.checkpoints[0];
    EXPECT_NE(a.layers[0].w, w0[0]);
    EXPECT_EQ(a.layers[1].w, w0[1]);
    EXPECT_EQ(a.layers[2].w, w0[2]);
    const RunState& b = obs.checkpoints[1];
    EXPECT_EQ(b.layers[0].w, a.layers[0].w);
    EXPECT_NE(b.layers[1].w, w0[1]);
    EXPECT_EQ(b.layers[2].w, w0[2]);
    EXPECT_EQ(r.state.layers[1].w, b.layers[1].w);
    EXPECT_NE(r.state.layers[2].w, w0[2]);
}

struct Stopper : Collect {
    int64_t stop_after = -1, done = 0;
    void on_progress(int64_t d, int64_t) override { done = d; }
    bool stop_requested() override { return stop_after >= 0 && done >= stop_after; }
};

TEST(Stack, ResumeThroughTheFileIsBitIdentical) {
    TempDir dir;
    SimConfig cfg = stack_config(ModelKind::ei_rate, {layer(3, 3, 1, 1), layer(2, 3, 2, 1)}, 2, 12);
    cfg.input.noise_std = 0.05;
    cfg.run.presentations = 7;
    cfg.run.record_every = 100;
    cfg.run.checkpoint_every = 2;
    const auto g = stack_geometry(cfg.stack);
    const RunPlan plan = make_stack_plan(cfg.stack, g);
    const auto w0 = random_weights(cfg, g);
    const std::string yaml = to_yaml(cfg);
    auto read_all = [&](const std::string& path) {
        h5::Handle f = h5::open_file(path, h5::Mode::read_only);
        std::vector<std::vector<double>> out;
        out.push_back(h5::read_doubles(f.id(), "snr/neg_log_snr"));
        out.push_back(h5::read_doubles(f.id(), "snr/mean_abs_over_std"));
        out.push_back(h5::read_doubles(f.id(), "snr/time"));
        for (size_t l = 0; l < g.size(); ++l) out.push_back(h5::read_doubles(f.id(), "layers/" + std::to_string(l) + "/weights_final"));
        EXPECT_EQ(h5::attr_int(f.id(), "complete"), 1);
        return out;
    };
    {   // straight
        h5::Handle f = h5::open_file(dir.file("a.h5"), h5::Mode::create_exclusive);
        StackFileWriter wr(f.id(), cfg, yaml, plan, false);
        wr.finish(run_stack(cfg, plan, 7, 0, w0, wr));
    }
    {   // stopped after 3 presentations (the checkpoint is taken there)
        h5::Handle f = h5::open_file(dir.file("b.h5"), h5::Mode::create_exclusive);
        StackFileWriter wr(f.id(), cfg, yaml, plan, false);
        int64_t done = 0;
        wr.progress = [&](int64_t d, int64_t) { done = d; };
        wr.stop = [&] { return done >= 3; };
        const RunResult r = run_stack(cfg, plan, 7, 0, w0, wr);
        EXPECT_EQ(r.status, RunStatus::interrupted);
        wr.finish(r);
        EXPECT_EQ(h5::attr_int(f.id(), "complete"), 0);
    }
    // Resume with the CLI, as a user would.
    const std::string cmd = std::string(DYNSHARE_CLI) + " simulate --resume " + dir.file("b.h5") + " --quiet";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    EXPECT_EQ(read_all(dir.file("a.h5")), read_all(dir.file("b.h5")));
}

TEST(Stack, WeightFileRoundTripAndShapeErrors) {
    TempDir dir;
    SimConfig cfg = stack_config(ModelKind::ei_rate, {layer(3, 3, 1, 1), layer(2, 3, 2, 1)}, 2, 8);
    const auto g = stack_geometry(cfg.stack);
    const auto w = random_weights(cfg, g);
    {
        h5::Handle f = h5::open_file(dir.file("w.h5"), h5::Mode::create_exclusive);
        for (size_t l = 0; l < g.size(); ++l) write_lc_weights(f.id(), "layers/" + std::to_string(l) + "/weights", g[l], w[l]);
    }
    EXPECT_EQ(read_stack_weights(dir.file("w.h5"), g), w);
    // A file whose layer 1 has the wrong shape.
    {
        h5::Handle f = h5::open_file(dir.file("bad.h5"), h5::Mode::create_exclusive);
        write_lc_weights(f.id(), "layers/0/weights", g[0], w[0]);
        h5::write(f.id(), "layers/1/weights", std::vector<double>(2 * 4 * 4 * 9, 0.0), {2, 4, 4, 9});
    }
    const std::string msg = user_error([&] { read_stack_weights(dir.file("bad.h5"), g); });
    EXPECT_NE(msg.find("/layers/1/weights"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(2, 4, 4, 27)"), std::string::npos) << msg;

    // Through the CLI: a good file runs and ends with weights_final, which a
    // second run accepts as its --weights; a bad one exits 2 writing nothing.
    std::ofstream(dir.file("cfg.yaml")) << to_yaml(cfg);
    const std::string cli = std::string(DYNSHARE_CLI) + " simulate " + dir.file("cfg.yaml") + " --quiet ";
    ASSERT_EQ(std::system((cli + "--weights " + dir.file("w.h5") + " -o " + dir.file("out1.h5")).c_str()), 0);
    {
        h5::Handle f = h5::open_file(dir.file("out1.h5"), h5::Mode::read_only);
        EXPECT_EQ(h5::read_doubles(f.id(), "layers/1/weights_initial"), w[1]);
        std::vector<hsize_t> dims;
        h5::read_doubles(f.id(), "layers/1/weights_final", &dims);
        EXPECT_EQ(dims, (std::vector<hsize_t>{2, 4, 4, 27}));
        EXPECT_EQ(h5::attr_int(f.id(), "complete"), 1);
    }
    ASSERT_EQ(std::system((cli + "--weights " + dir.file("out1.h5") + " -o " + dir.file("out2.h5")).c_str()), 0);
    const int rc = std::system((cli + "--weights " + dir.file("bad.h5") + " -o " + dir.file("out3.h5") + " 2> " +
                                dir.file("err.txt")).c_str());
    EXPECT_EQ(WEXITSTATUS(rc), 2);
    EXPECT_FALSE(std::filesystem::exists(dir.file("out3.h5")));
    std::stringstream err;
    err << std::ifstream(dir.file("err.txt")).rdbuf();
    EXPECT_NE(err.str().find("/layers/1/weights"), std::string::npos) << err.str();
}

TEST(Stack, BadConfigsExitTwoWritingNothing) {
    TempDir dir;
    SimConfig cfg = stack_config(ModelKind::ei_rate, {layer(2, 5, 1, 2), layer(2, 3, 1, 1)}, 1, 8);
    std::ofstream(dir.file("cfg.yaml")) << to_yaml(cfg);
    const std::string cli = std::string(DYNSHARE_CLI) + " simulate " + dir.file("cfg.yaml") + " --quiet -o " +
                            dir.file("out.h5") + " 2> " + dir.file("err.txt");
    auto expect_error = [&](const std::string& extra, const std::string& piece) {
        const int rc = std::system((cli + " " + extra).c_str());
        EXPECT_EQ(WEXITSTATUS(rc), 2) << extra;
        EXPECT_FALSE(std::filesystem::exists(dir.file("out.h5"))) << extra;
        std::stringstream err;
        err << std::ifstream(dir.file("err.txt")).rdbuf();
        EXPECT_NE(err.str().find(piece), std::string::npos) << err.str();
    };
    expect_error("", "stack.layers[1].stride");                                          // period 5 then 3
    expect_error("--set 'stack.layers=[{kernel: 11, padding: 1}]'", "stack.layers[0].kernel");  // kernel > input
}

// Sum over modules of the variance of the non-border members' weights.
double module_variance(const LayerPlan& pl, const std::vector<double>& w) {
    const int64_t k = pl.g.fan_in();
    double total = 0.0;
    for (size_t m = 0; m + 1 < pl.snr_offsets.size(); ++m) {
        const int64_t a = pl.snr_offsets[m], n = pl.snr_offsets[m + 1] - a;
        for (int64_t j = 0; j < k; ++j) {
            double s1 = 0.0, s2 = 0.0;
            for (int64_t r = a; r < a + n; ++r) {
                const double v = w[pl.order[pl.snr_rows[r]] * k + j];
                s1 += v;
                s2 += v * v;
            }
            total += s2 / n - (s1 / n) * (s1 / n);
        }
    }
    return total;
}

TEST(Stack, SleepPhaseApiAndMetrics) {
    SimConfig cfg = stack_config(ModelKind::ei_rate, {layer(3, 3, 1, 1), layer(3, 3, 1, 1)}, 2, 12);
    cfg.run.presentations = 30;
    cfg.plasticity.gamma = 0.01;
    // Presentation by presentation: the engine run below records more often,
    // and blocks end at records, so with blocks the two would round differently.
    cfg.dynamics.block = 1;
    const auto g = stack_geometry(cfg.stack);
    const RunPlan plan = make_stack_plan(cfg.stack, g);
    auto w = random_weights(cfg, g);
    const auto w_start = w;
    const SleepPhaseResult r = run_sleep_phase(cfg, g, w, 5);
    ASSERT_EQ(r.neg_log_snr_before.size(), 2u);
    ASSERT_EQ(r.neg_log_snr_after.size(), 2u);
    for (size_t l = 0; l < 2; ++l) {
        EXPECT_EQ(r.neg_log_snr_before[l], lc_neg_log_snr(g[l], w_start[l].data(), 3));
        EXPECT_EQ(r.neg_log_snr_after[l], lc_neg_log_snr(g[l], w[l].data(), 3));
        // Eq. 8 equalises the weights inside the modules.
        EXPECT_LT(module_variance(plan.layers[l], w[l]), 0.8 * module_variance(plan.layers[l], w_start[l])) << l;
    }
    // The same as the engine with the key (seed, seed_run).
    Collect obs;
    const RunResult e = run_stack(cfg, plan, cfg.run.seed, 5, w_start, obs);
    EXPECT_EQ(e.state.layers[1].w, w[1]);
    // lc_neg_log_snr by hand: one module of a 1-channel 1x... layer, period 1.
    LcGeometry one;
    one.c_in = 1; one.h_in = 3; one.w_in = 3; one.c_out = 1; one.k = 1;
    std::vector<double> ww = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const double mean = 5, var = 60.0 / 9;
    EXPECT_NEAR(lc_neg_log_snr(one, ww.data(), 1), -std::log(mean * mean / var), 1e-12);
    EXPECT_NEAR(lc_snr(one, ww.data(), 1).mean_abs_over_std, mean / std::sqrt(var), 1e-12);
}

// ---- plasticity.lr_scaling ------------------------------------------------------------

// lr_scaling fan_in divides the rate by the neuron's fan-in: with a power-of-two
// fan-in the division is exact, so rate F*lr scaled must equal rate lr
// unscaled bit for bit, for the discrete (euler) and continuous (exponential)
// forms, in a stack layer (fan-in c_in k^2 = 2 * 2^2 = 8) and in the single
// layer (k^2 = 4^2 = 16).
TEST(Stack, LrScalingFanInDividesTheRateByTheFanIn) {
    for (Integrator in : {Integrator::euler, Integrator::exponential}) {
        SimConfig plain = stack_config(ModelKind::ei_rate, {layer(3, 2, 2, 0)}, 2, 8);
        plain.dynamics.integrator = in;
        plain.plasticity.lr = 1e-3;
        SimConfig scaled = plain;
        scaled.plasticity.lr_scaling = LrScaling::fan_in;
        scaled.plasticity.lr = 8e-3;
        const auto g = stack_geometry(plain.stack);
        ASSERT_EQ(g[0].fan_in(), 8);
        Collect a, b;
        const auto w = random_weights(plain, g);
        EXPECT_EQ(run(plain, w, a).state.layers[0].w, run(scaled, w, b).state.layers[0].w) << to_string(in);

        SimConfig one;
        one.layer.neurons = 10;
        one.layer.kernel = 4;
        one.dynamics.integrator = in;
        one.run.presentations = 5;
        one.plasticity.lr = 1e-3;
        SimConfig one_scaled = one;
        one_scaled.plasticity.lr_scaling = LrScaling::fan_in;
        one_scaled.plasticity.lr = 16e-3;
        RecordingObserver ra, rb;
        EXPECT_EQ(run_single_layer(one, ra).state.layers[0].w, run_single_layer(one_scaled, rb).state.layers[0].w) << to_string(in);
    }
}

// Why the trainer scales. Three layers with fan-ins 9, 36 and 144 under
// unit-RMS patterns and one rate, 0.008 per step: unscaled, the per-step
// gains lr |x|^2 are 0.07, 0.29 and 1.15, far above what the rates (lagging
// by tau) can follow, so the loop rings instead of settling and equalises
// every layer worse (measured: module variance x0.35 / x0.77 / x0.95 after 60
// presentations); scaled by the fan-in, the gain is 0.008 in every layer
// (x0.04 / x0.34 / x0.82).
TEST(Stack, LrScalingEqualisesLayersOfEveryWidth) {
    SimConfig cfg = stack_config(ModelKind::ei_rate, {layer(4, 3, 1, 1), layer(16, 3, 1, 1), layer(8, 3, 1, 1)}, 1, 12);
    cfg.dynamics.integrator = Integrator::exponential;
    cfg.dynamics.alpha = 100;
    cfg.plasticity.momentum = 0.0;
    cfg.plasticity.schedule = ScheduleKind::constant;
    cfg.plasticity.delay_steps = 0;
    cfg.plasticity.lr = 0.008;
    cfg.stack.drive = 1.0;
    cfg.run.presentations = 60;
    const auto g = stack_geometry(cfg.stack);
    ASSERT_EQ(g[2].fan_in(), 144);
    const RunPlan plan = make_stack_plan(cfg.stack, g);
    const auto w0 = random_weights(cfg, g);
    SimConfig scaled = cfg;
    scaled.plasticity.lr_scaling = LrScaling::fan_in;
    Collect a, b;
    const RunResult plain_run = run(cfg, w0, a), scaled_run = run(scaled, w0, b);
    ASSERT_EQ(plain_run.status, RunStatus::complete);
    ASSERT_EQ(scaled_run.status, RunStatus::complete);
    for (size_t l = 0; l < g.size(); ++l) {
        const double before = module_variance(plan.layers[l], w0[l]);
        const double plain = module_variance(plan.layers[l], plain_run.state.layers[l].w);
        const double fan = module_variance(plan.layers[l], scaled_run.state.layers[l].w);
        EXPECT_LT(fan, 0.9 * before) << "layer " << l;
        EXPECT_LT(fan, plain) << "layer " << l;
    }
}


}  // namespace
}  // namespace dynshare
