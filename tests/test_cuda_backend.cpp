// The CUDA backend against the CPU backend, on the same seeds and therefore
// the same inputs (both draw x with include/dynshare/philox.hpp; the initial
// weights are drawn on the host by SingleLayerInputs for both).
//
// Tolerances.
//  fp64: relative 1e-9 on every record and on the final weights, over short
//    runs (<= 3000 steps). The GPU does the same operations per neuron in the
//    same order; what differs is (i) the order of the module-mean sums (warp
//    tree vs the CPU's four lanes), (ii) FMA contraction (nvcc contracts, the
//    CPU build has -ffp-contract=off), (iii) libm vs CUDA's log/sin/cos in the
//    Box-Muller draws (<= 2 ulp). Each is O(1e-16) relative per operation; the
//    rate dynamics contract (factor 1 - dt/tau per step), so the differences
//    stay at a few hundred ulp after 3000 steps: 1e-9 leaves a 1e4 margin.
//  fp32: the -log SNR_w curve within 1e-3 absolute. The state is rounded to
//    fp32 each step (u = 6e-8); the errors are damped by the rate dynamics and
//    accumulate in the weights as a random walk, ~sqrt(3000) * u = 3e-6
//    relative after 3000 steps. -log SNR_w = -log(mean^2/var) moves by about
//    2 * (weight error) / (std of the weights across neurons) ~ 1e-5 here
//    (weights O(1), std O(0.5)), so 1e-3 is a 100x margin.
//  Batched vs one by one: bitwise equal (one block per run either way, the
//    same kernel, no cross-run arithmetic).
// Every GPU test skips where no CUDA device is usable.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "dynshare/backend.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/single_layer.hpp"
#include "test_helpers.hpp"

using namespace dynshare;

namespace {

#define REQUIRE_GPU()                                        \
    do {                                                     \
        std::string why_;                                    \
        if (!cuda_usable(&why_)) GTEST_SKIP() << "no GPU: " << why_; \
    } while (0)

SimConfig base_ei(Integrator integ) {
    SimConfig cfg;
    cfg.model = ModelKind::ei_rate;
    cfg.layer.neurons = 20;
    cfg.layer.kernel = 3;
    cfg.dynamics.integrator = integ;
    cfg.input.presentation = 0.15;  // 150 steps
    cfg.plasticity.lr = 3e-3;       // 10x Fig. 4B, so 20 presentations move the weights
    cfg.plasticity.delay_steps = 50;
    cfg.run.presentations = 20;     // 3000 steps
    cfg.run.record_every = 50;
    cfg.run.checkpoint_every = 7;
    cfg.run.seed = 11;
    return cfg;
}

SimConfig base_ideal() {
    SimConfig cfg;
    cfg.model = ModelKind::ideal;
    cfg.layer.neurons = 30;
    cfg.layer.kernel = 3;
    cfg.plasticity.lr = 0.5;
    cfg.plasticity.schedule = ScheduleKind::inv;
    cfg.plasticity.schedule_t0 = 1000;
    cfg.plasticity.delay_steps = 0;
    cfg.plasticity.momentum = 0.9;
    cfg.run.presentations = 300;
    cfg.run.record_every = 10;
    cfg.run.checkpoint_every = 100;
    cfg.run.seed = 5;
    return cfg;
}

struct Case {
    std::string name;
    SimConfig cfg;
};

std::vector<Case> all_cases() {
    std::vector<Case> c;
    c.push_back({"ideal", base_ideal()});
    c.push_back({"euler", base_ei(Integrator::euler)});
    c.push_back({"rk4", base_ei(Integrator::rk4)});
    c.push_back({"exponential", base_ei(Integrator::exponential)});
    SimConfig noisy = base_ei(Integrator::euler);
    noisy.input.noise_std = 0.3;
    c.push_back({"euler_noisy_inputs", noisy});
    SimConfig noisy_exp = base_ei(Integrator::exponential);
    noisy_exp.input.noise_std = 0.3;
    noisy_exp.dynamics.macro_step = 0.02;
    c.push_back({"exponential_noisy_inputs", noisy_exp});
    return c;
}

// One single-layer run through a backend (its one-layer plan).
RunResult run_one(Backend& backend, const SimConfig& cfg, RunObserver& obs) {
    return backend.run(cfg, make_plan(cfg), {}, obs, nullptr);
}

struct CheckpointLog : RecordingObserver {
    std::vector<int64_t> checkpoints;
    std::vector<RunState> states;
    int begins = 0;
    void on_begin(const RunState&) override { ++begins; }
    void on_checkpoint(const RunState& s) override {
        checkpoints.push_back(s.presentation);
        states.push_back(s);
    }
};

double max_rel(const std::vector<double>& a, const std::vector<double>& b) {
    EXPECT_EQ(a.size(), b.size());
    double scale = 0.0, diff = 0.0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        scale = std::max(scale, std::abs(a[i]));
        diff = std::max(diff, std::abs(a[i] - b[i]));
    }
    return scale > 0 ? diff / scale : diff;
}

void expect_same_steps(const RecordingObserver& a, const RecordingObserver& b) {
    ASSERT_EQ(a.steps, b.steps);
    ASSERT_EQ(a.times.size(), b.times.size());
    for (size_t i = 0; i < a.times.size(); ++i) EXPECT_DOUBLE_EQ(a.times[i], b.times[i]);
}

void compare_records(const RecordingObserver& cpu, const RecordingObserver& gpu, double abs_tol, double rel_tol,
                     const std::string& what) {
    expect_same_steps(cpu, gpu);
    for (size_t i = 0; i < cpu.values.size(); ++i) {
        const double a = cpu.values[i][0], b = gpu.values[i][0];
        EXPECT_NEAR(a, b, abs_tol + rel_tol * std::abs(a)) << what << ": record " << i << " (step " << cpu.steps[i]
                                                           << ")";
    }
}

}  // namespace

// ---- without a GPU (or without CUDA): the factory's behaviour --------------

TEST(CudaBackendFactory, CudaWithoutDeviceIsUserErrorAndAutoFallsBack) {
    std::string why;
    if (cuda_usable(&why)) {
        std::string notice;
        auto b = make_backend(BackendKind::automatic, &notice);
        EXPECT_EQ(b->name(), "cuda");
        EXPECT_EQ(notice, "backend: cuda");
        EXPECT_EQ(make_backend(BackendKind::cuda, nullptr)->name(), "cuda");
        return;
    }
    EXPECT_FALSE(why.empty());
    try {
        make_backend(BackendKind::cuda, nullptr);
        FAIL() << "make_backend(cuda) without a usable GPU must throw UserError";
    } catch (const UserError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("--backend cuda"), std::string::npos) << msg;
        EXPECT_NE(msg.find(why), std::string::npos) << msg;
    }
    std::string notice;
    auto b = make_backend(BackendKind::automatic, &notice);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->name(), "cpu");
    EXPECT_EQ(notice.rfind("backend: cpu (", 0), 0u) << notice;
    EXPECT_EQ(notice.find('\n'), std::string::npos) << "the notice is one line";
}

TEST(CudaBackendFactory, DefaultRunBatchIsRunsOneByOne) {
    auto cpu = make_cpu_backend();
    std::vector<SimConfig> cfgs;
    for (int s = 0; s < 3; ++s) {
        SimConfig c = base_ei(Integrator::euler);
        c.run.presentations = 3;
        c.run.seed = 100 + s;
        cfgs.push_back(c);
    }
    std::vector<RecordingObserver> obs(cfgs.size());
    std::vector<RunObserver*> ptrs;
    for (auto& o : obs) ptrs.push_back(&o);
    const auto results = cpu->run_batch(cfgs, ptrs);
    ASSERT_EQ(results.size(), cfgs.size());
    for (size_t i = 0; i < cfgs.size(); ++i) {
        RecordingObserver one;
        const RunResult r = run_one(*cpu, cfgs[i], one);
        EXPECT_EQ(obs[i].steps, one.steps);
        EXPECT_EQ(obs[i].values, one.values);
        EXPECT_EQ(results[i].state.layers[0].w, r.state.layers[0].w);
    }
}

#ifdef DYNSHARE_HAVE_CUDA
TEST(CudaBackendFactory, UnsupportedConfigsAreUserErrors) {
    // Checked before the device is touched, so this runs without a GPU too.
    auto gpu = make_cuda_backend(DevicePrecision::fp32);
    ASSERT_TRUE(gpu);
    RecordingObserver obs;
    SimConfig c = base_ei(Integrator::dopri5);
    EXPECT_THROW(run_one(*gpu, c, obs), UserError);
    c = base_ei(Integrator::euler);
    c.plasticity.form = PlasticityForm::continuous;
    EXPECT_THROW(run_one(*gpu, c, obs), UserError);
    c = base_ei(Integrator::euler);
    c.stack.enabled = true;
    c.stack.input = StackInput{1, 6, 6};
    c.stack.layers = {StackLayer{}};
    try {
        gpu->check(c, make_plan(c));
        ADD_FAILURE() << "a stacked plan must be refused by the CUDA backend";
    } catch (const UserError& e) {
        EXPECT_NE(std::string(e.what()).find("stacked layers"), std::string::npos) << e.what();
    }
    c = base_ei(Integrator::euler);
    c.layer.neurons = 5000;
    EXPECT_THROW(run_one(*gpu, c, obs), UserError);
}

TEST(CudaBackendFactory, PrecisionFromEnvironment) {
    ::setenv("DYNSHARE_CUDA_PRECISION", "fp16", 1);
    EXPECT_THROW(make_cuda_backend(), UserError);
    ::setenv("DYNSHARE_CUDA_PRECISION", "fp64", 1);
    EXPECT_NO_THROW(make_cuda_backend());
    ::unsetenv("DYNSHARE_CUDA_PRECISION");
    EXPECT_NO_THROW(make_cuda_backend());
}
#endif

// ---- on a GPU ------------------------------------------------------------------

TEST(CudaBackend, Fp64AgreesWithCpuForEveryModelAndIntegrator) {
    REQUIRE_GPU();
    auto cpu = make_cpu_backend();
    auto gpu = make_cuda_backend(DevicePrecision::fp64);
    for (const Case& c : all_cases()) {
        SCOPED_TRACE(c.name);
        CheckpointLog a, b;
        const RunResult ra = run_one(*cpu, c.cfg, a);
        const RunResult rb = run_one(*gpu, c.cfg, b);
        EXPECT_EQ(ra.status, rb.status);
        compare_records(a, b, 1e-12, 1e-9, c.name);
        EXPECT_EQ(a.checkpoints, b.checkpoints);
        EXPECT_EQ(a.begins, b.begins);
        EXPECT_EQ(a.done, b.done);
        EXPECT_EQ(ra.state.presentation, rb.state.presentation);
        EXPECT_EQ(ra.state.step, rb.state.step);
        EXPECT_EQ(ra.integrator_steps, rb.integrator_steps);
        EXPECT_LT(max_rel(ra.state.layers[0].w, rb.state.layers[0].w), 1e-9);
        EXPECT_LT(max_rel(ra.state.layers[0].v, rb.state.layers[0].v), 1e-9);
        EXPECT_EQ(ra.state.layers[0].w0, rb.state.layers[0].w0);
        EXPECT_LT(max_rel(ra.state.layers[0].r, rb.state.layers[0].r), 1e-9);
        EXPECT_LT(max_rel(ra.state.layers[0].r_inh, rb.state.layers[0].r_inh), 1e-9);
        EXPECT_NEAR(ra.theory_min, rb.theory_min, 1e-9 * std::abs(ra.theory_min));
        for (size_t i = 0; i < a.states.size() && i < b.states.size(); ++i)
            EXPECT_LT(max_rel(a.states[i].layers[0].w, b.states[i].layers[0].w), 1e-9) << "checkpoint " << i;
    }
}

TEST(CudaBackend, Fp32NegLogSnrWithin1e3OfCpu) {
    REQUIRE_GPU();
    auto cpu = make_cpu_backend();
    auto gpu = make_cuda_backend(DevicePrecision::fp32);
    for (const Case& c : all_cases()) {
        SCOPED_TRACE(c.name);
        RecordingObserver a, b;
        const RunResult ra = run_one(*cpu, c.cfg, a);
        const RunResult rb = run_one(*gpu, c.cfg, b);
        EXPECT_EQ(ra.status, rb.status);
        compare_records(a, b, 1e-3, 0.0, c.name);
        EXPECT_LT(max_rel(ra.state.layers[0].w, rb.state.layers[0].w), 1e-4);
    }
}

TEST(CudaBackend, BatchedEqualsOneByOne) {
    REQUIRE_GPU();
    for (DevicePrecision prec : {DevicePrecision::fp32, DevicePrecision::fp64}) {
        auto gpu = make_cuda_backend(prec);
        std::vector<SimConfig> cfgs;
        for (const Case& c : all_cases())
            for (int s = 0; s < 3; ++s) {
                SimConfig x = c.cfg;
                x.run.seed = 1000 + s;
                x.plasticity.lr *= 1.0 + 0.25 * s;  // per-run parameters differ within a group
                cfgs.push_back(x);
            }
        std::vector<CheckpointLog> obs(cfgs.size());
        std::vector<RunObserver*> ptrs;
        for (auto& o : obs) ptrs.push_back(&o);
        const auto batch = gpu->run_batch(cfgs, ptrs);
        ASSERT_EQ(batch.size(), cfgs.size());
        for (size_t i = 0; i < cfgs.size(); ++i) {
            CheckpointLog one;
            const RunResult r = run_one(*gpu, cfgs[i], one);
            EXPECT_EQ(obs[i].steps, one.steps) << i;
            EXPECT_EQ(obs[i].values, one.values) << i;
            EXPECT_EQ(obs[i].checkpoints, one.checkpoints) << i;
            EXPECT_EQ(batch[i].state.layers[0].w, r.state.layers[0].w) << i;
            EXPECT_EQ(batch[i].state.layers[0].v, r.state.layers[0].v) << i;
            EXPECT_EQ(batch[i].state.layers[0].r, r.state.layers[0].r) << i;
            EXPECT_EQ(batch[i].theory_min, r.theory_min) << i;
        }
    }
}

TEST(CudaBackend, StopAndResumeIsBitIdentical) {
    REQUIRE_GPU();
    auto gpu = make_cuda_backend(DevicePrecision::fp32);
    SimConfig cfg = base_ei(Integrator::euler);
    cfg.run.checkpoint_every = 4;  // chunks end every 4 presentations
    RecordingObserver full;
    const RunResult whole = run_one(*gpu, cfg, full);
    RecordingObserver part;
    part.stop_after = 8;
    const RunResult first = run_one(*gpu, cfg, part);
    ASSERT_EQ(first.status, RunStatus::interrupted);
    EXPECT_EQ(first.state.presentation, 8);
    RecordingObserver rest;
    const RunResult second = gpu->run(cfg, make_plan(cfg), {}, rest, &first.state);
    EXPECT_EQ(second.status, RunStatus::complete);
    std::vector<int64_t> steps = part.steps;
    steps.insert(steps.end(), rest.steps.begin(), rest.steps.end());
    std::vector<std::vector<double>> values = part.values;
    values.insert(values.end(), rest.values.begin(), rest.values.end());
    EXPECT_EQ(steps, full.steps);
    EXPECT_EQ(values, full.values);
    EXPECT_EQ(second.state.layers[0].w, whole.state.layers[0].w);
}

TEST(CudaBackend, DivergenceIsReportedLikeTheCpu) {
    SimConfig cfg = base_ei(Integrator::euler);
    cfg.plasticity.lr = 50.0;
    cfg.plasticity.schedule = ScheduleKind::constant;
    cfg.plasticity.delay_steps = 0;
    RecordingObserver a, b;
    const RunResult ra = run_one(*make_cpu_backend(), cfg, a);
    ASSERT_EQ(ra.status, RunStatus::diverged);  // the premise, checked without a GPU too
    REQUIRE_GPU();
    const RunResult rb = run_one(*make_cuda_backend(DevicePrecision::fp64), cfg, b);
    EXPECT_EQ(rb.status, RunStatus::diverged);
    EXPECT_EQ(ra.state.presentation, rb.state.presentation);
    EXPECT_EQ(ra.message, rb.message);
}
