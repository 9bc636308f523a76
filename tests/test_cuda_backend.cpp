// SPDX-License-Identifier: BSD-3-Clause
// The CUDA backend against the CPU backend, on the same seeds and therefore
// the same inputs (both draw x with include/dynshare/philox.hpp; the initial
// weights are drawn on the host by SingleLayerInputs for both).
//
// Every test body runs against two targets (value-parameterised):
//   Emulated/...  the CUDA backend's host code and kernel sources built as
//                 host C++ and run by the emulator (src/cuda/emulation/,
//                 docs/gpu_emulation.md). Runs everywhere; ctest label
//                 cuda_emulated. Smaller runs (fewer presentations), since
//                 every CUDA thread is a std::thread.
//   Device/...    the same on a GPU: skipped where no CUDA device is usable
//                 (or where dynshare was built without nvcc).
//
// Tolerances (u = unit roundoff: 1.1e-16 in fp64, 6.0e-8 in fp32).
//  fp64, device: relative 1e-9 on every record, the final state and every
//    checkpoint, over runs of <= 3000 steps. The GPU does the same operations
//    per neuron in the same order; what differs is (i) the order of the
//    module-mean sums (warp tree, then the warps' partials, vs the CPU's four
//    lanes), (ii) FMA contraction (nvcc contracts; the CPU build has
//    -ffp-contract=off), (iii) CUDA's log/sin/cos/exp vs libm (<= 2 ulp) in the
//    Box-Muller draws and the propagators. Each costs O(u) relative per
//    operation. The rate dynamics contract (factor 1 - dt/tau per step), so a
//    perturbation does not grow; the weights integrate the per-step errors
//    (a random walk) and the momentum recursion amplifies a step's error by at
//    most 1/(1 - mu) = 20: after S = 3000 steps, ~ 20 sqrt(S) u = 1e3 u = 1e-13,
//    and a few hundred ulp at worst: 1e-9 leaves a margin of >= 1e4.
//  fp64, emulated: relative 1e-11. The emulated kernels are compiled by the
//    host compiler with the project's flags (-ffp-contract=off) and call the
//    CPU's libm, so (ii) and (iii) vanish and only the summation order (i)
//    is left: the bound above without the FMA and libm terms is ~1e-13 over
//    at most 3000 steps (the emulated runs are shorter); 1e-11 is a 100x
//    margin, and still 100x tighter than the device's, so the emulation would
//    notice an indexing or ordering error that the device tolerance might hide.
//  fp32 (both): the -log SNR_w curve within 1e-3 absolute, the final weights
//    within 1e-4 relative. The state is rounded to fp32 each step; the
//    errors are damped by the rate dynamics and accumulate in the weights as a
//    random walk, ~ sqrt(3000) u = 3e-6 relative after 3000 steps, times the
//    momentum gain (<= 20 in the worst case): <= 7e-5 relative, hence 1e-4 on
//    the weights. -log SNR_w = -log(mean^2/var) moves by about
//    2 * (weight error) / (std of the weights across neurons) ~ 1e-5 here
//    (weights O(1), std O(0.5)), so 1e-3 is a 100x margin.
//  Batched vs one by one, stop + resume vs uninterrupted: bitwise equal (one
//    block per run either way, the same kernel, no cross-run arithmetic).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "cuda/batching.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/kernels.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/single_layer.hpp"
#include "test_helpers.hpp"

using namespace dynshare;

namespace {

// Where the CUDA backend's kernels run.
struct Target {
    std::string name;  // test-name suffix
    bool emulated;
    std::unique_ptr<Backend> (*make)(DevicePrecision);
    std::unique_ptr<Backend> (*make_from_env)();
    double fp64_rel;   // fp64: relative tolerance on records, states, checkpoints (derivation above)
    double fp32_abs;   // fp32: absolute tolerance on -log SNR_w
    double fp32_w_rel; // fp32: relative tolerance on the final weights
    // Runs are shortened to this many presentations (checkpoint intervals
    // with them) of this many steps, records every `record_every` steps (0:
    // as the case says), to keep the emulated label fast on two cores.
    int64_t max_presentations;
    int64_t steps_per_presentation;
    int64_t record_every;
};

// gtest prints the parameter by its name.
void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }

std::unique_ptr<Backend> make_device(DevicePrecision p) { return make_cuda_backend(p); }
std::unique_ptr<Backend> make_device_env() { return make_cuda_backend(); }
std::unique_ptr<Backend> make_emulated(DevicePrecision p) { return make_cuda_backend_emulated(p); }
std::unique_ptr<Backend> make_emulated_env() { return make_cuda_backend_emulated(); }

// Emulated: 4 presentations of 50 steps (a record inside each presentation
// and one at its end), the ideal model 200 one-step presentations.
const Target kEmulated{"emulated", true, &make_emulated, &make_emulated_env, 1e-11, 1e-3, 1e-4, 4, 50, 25};
const Target kDevice{"device", false, &make_device, &make_device_env, 1e-9, 1e-3, 1e-4, 0, 0, 0};

#ifdef DYNSHARE_HAVE_CUDA
constexpr bool kCudaBuilt = true;
#else
constexpr bool kCudaBuilt = false;
#endif

SimConfig base_ei(Integrator integ) {
    SimConfig cfg;
    cfg.model = ModelKind::ei_rate;
    cfg.layer.neurons = 40;  // two warps, the second partial: the block reduction and idle lanes
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
    cfg.layer.neurons = 50;
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

// Shortens a run for the target (emulated only): at most max_presentations
// (the ideal model, one step per presentation, keeps 50x as many), checkpoint
// intervals shortened in proportion (at least 1), shorter presentations.
SimConfig for_target(SimConfig cfg, const Target& t) {
    if (t.max_presentations == 0) return cfg;
    if (cfg.model != ModelKind::ideal) {
        cfg.input.presentation = static_cast<double>(t.steps_per_presentation) * cfg.dynamics.dt;
        cfg.run.record_every = t.record_every;
    }
    const int64_t cap = cfg.model == ModelKind::ideal ? 50 * t.max_presentations : t.max_presentations;
    if (cfg.run.presentations > cap) {
        const double f = static_cast<double>(cap) / static_cast<double>(cfg.run.presentations);
        cfg.run.checkpoint_every =
            std::max<int64_t>(1, static_cast<int64_t>(std::lround(static_cast<double>(cfg.run.checkpoint_every) * f)));
        cfg.run.presentations = cap;
    }
    return cfg;
}

std::vector<Case> all_cases(const Target& t) {
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
    for (Case& x : c) x.cfg = for_target(x.cfg, t);
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

class CudaBackendTest : public ::testing::TestWithParam<Target> {
protected:
    const Target& target() const { return GetParam(); }
    // The backend exists (emulated: always; device: when built with nvcc).
    bool built() const { return target().emulated || kCudaBuilt; }
    // It can run kernels (emulated: always; device: a usable GPU).
    bool runnable(std::string* why) const { return target().emulated || cuda_usable(why); }
};

#define REQUIRE_BUILT()                                                                         \
    do {                                                                                        \
        if (!built()) GTEST_SKIP() << "dynshare was built without the CUDA backend (no nvcc)"; \
    } while (0)

#define REQUIRE_RUNNABLE()                                          \
    do {                                                            \
        std::string why_;                                           \
        if (!runnable(&why_)) GTEST_SKIP() << "no GPU: " << why_;   \
    } while (0)

std::string target_name(const ::testing::TestParamInfo<Target>& info) { return info.param.name; }

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

TEST(CudaBackendFactory, EmulatedBackendIsNamedAsSuch) {
    // Never mistaken for a device run in a file or a log.
    EXPECT_EQ(make_cuda_backend_emulated(DevicePrecision::fp32)->name(), "cuda-emulated");
}

// ---- checks before the device is touched (no GPU needed) -----------------------

TEST_P(CudaBackendTest, UnsupportedConfigsAreUserErrors) {
    REQUIRE_BUILT();
    auto gpu = target().make(DevicePrecision::fp32);
    ASSERT_TRUE(gpu);
    RecordingObserver obs;
    SimConfig c = base_ei(Integrator::dopri5);
    EXPECT_THROW(run_one(*gpu, c, obs), UserError);
    c = base_ei(Integrator::euler);
    c.plasticity.form = PlasticityForm::continuous;
    EXPECT_THROW(run_one(*gpu, c, obs), UserError);
    // Stacked plans run euler and exponential (tests/test_cuda_stack.cpp); rk4 is refused.
    c = base_ei(Integrator::rk4);
    c.stack.enabled = true;
    c.stack.input = StackInput{1, 6, 6};
    c.stack.layers = {StackLayer{}};
    try {
        gpu->check(c, make_plan(c));
        ADD_FAILURE() << "a stacked plan with rk4 must be refused by the CUDA backend";
    } catch (const UserError& e) {
        EXPECT_NE(std::string(e.what()).find("stacked layers"), std::string::npos) << e.what();
    }
    c = base_ei(Integrator::euler);
    c.layer.neurons = 5000;
    EXPECT_THROW(run_one(*gpu, c, obs), UserError);
}

TEST_P(CudaBackendTest, PrecisionFromEnvironment) {
    REQUIRE_BUILT();
    ::setenv("DYNSHARE_CUDA_PRECISION", "fp16", 1);
    EXPECT_THROW(target().make_from_env(), UserError);
    ::setenv("DYNSHARE_CUDA_PRECISION", "fp64", 1);
    EXPECT_NO_THROW(target().make_from_env());
    ::unsetenv("DYNSHARE_CUDA_PRECISION");
    EXPECT_NO_THROW(target().make_from_env());
}

// ---- the kernels: on the emulator, or on a GPU ----------------------------------

TEST_P(CudaBackendTest, Fp64AgreesWithCpuForEveryModelAndIntegrator) {
    REQUIRE_RUNNABLE();
    const double tol = target().fp64_rel;
    auto cpu = make_cpu_backend();
    auto gpu = target().make(DevicePrecision::fp64);
    for (const Case& c : all_cases(target())) {
        SCOPED_TRACE(c.name);
        CheckpointLog a, b;
        const RunResult ra = run_one(*cpu, c.cfg, a);
        const RunResult rb = run_one(*gpu, c.cfg, b);
        EXPECT_EQ(ra.status, rb.status);
        compare_records(a, b, 1e-3 * tol, tol, c.name);
        EXPECT_FALSE(a.checkpoints.empty()) << "the case should cross a checkpoint";
        EXPECT_EQ(a.checkpoints, b.checkpoints);
        EXPECT_EQ(a.begins, b.begins);
        EXPECT_EQ(a.done, b.done);
        EXPECT_EQ(ra.state.presentation, rb.state.presentation);
        EXPECT_EQ(ra.state.step, rb.state.step);
        EXPECT_EQ(ra.integrator_steps, rb.integrator_steps);
        EXPECT_LT(max_rel(ra.state.layers[0].w, rb.state.layers[0].w), tol);
        EXPECT_LT(max_rel(ra.state.layers[0].v, rb.state.layers[0].v), tol);
        EXPECT_EQ(ra.state.layers[0].w0, rb.state.layers[0].w0);
        EXPECT_LT(max_rel(ra.state.layers[0].r, rb.state.layers[0].r), tol);
        EXPECT_LT(max_rel(ra.state.layers[0].r_inh, rb.state.layers[0].r_inh), tol);
        EXPECT_NEAR(ra.theory_min, rb.theory_min, tol * std::abs(ra.theory_min));
        for (size_t i = 0; i < a.states.size() && i < b.states.size(); ++i)
            EXPECT_LT(max_rel(a.states[i].layers[0].w, b.states[i].layers[0].w), tol) << "checkpoint " << i;
    }
}

TEST_P(CudaBackendTest, Fp32NegLogSnrWithin1e3OfCpu) {
    REQUIRE_RUNNABLE();
    auto cpu = make_cpu_backend();
    auto gpu = target().make(DevicePrecision::fp32);
    for (const Case& c : all_cases(target())) {
        SCOPED_TRACE(c.name);
        RecordingObserver a, b;
        const RunResult ra = run_one(*cpu, c.cfg, a);
        const RunResult rb = run_one(*gpu, c.cfg, b);
        EXPECT_EQ(ra.status, rb.status);
        compare_records(a, b, target().fp32_abs, 0.0, c.name);
        EXPECT_LT(max_rel(ra.state.layers[0].w, rb.state.layers[0].w), target().fp32_w_rel);
    }
}

TEST_P(CudaBackendTest, BatchedEqualsOneByOne) {
    REQUIRE_RUNNABLE();
    // Emulated: 2 runs per group (a grid of 2 blocks) and the cases that
    // cover each kernel path once (ideal; Euler and noisy inputs; exponential),
    // to stay fast; rk4 takes the Euler path's loop structure.
    const int seeds = target().emulated ? 2 : 3;
    std::vector<Case> cases = all_cases(target());
    if (target().emulated) {
        std::vector<Case> some;
        for (const Case& c : cases)
            if (c.name == "ideal" || c.name == "euler_noisy_inputs" || c.name == "exponential") some.push_back(c);
        cases = some;
    }
    for (DevicePrecision prec : {DevicePrecision::fp32, DevicePrecision::fp64}) {
        auto gpu = target().make(prec);
        std::vector<SimConfig> cfgs;
        for (const Case& c : cases)
            for (int s = 0; s < seeds; ++s) {
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

TEST_P(CudaBackendTest, StopAndResumeIsBitIdentical) {
    REQUIRE_RUNNABLE();
    auto gpu = target().make(DevicePrecision::fp32);
    SimConfig cfg = for_target(base_ei(Integrator::euler), target());
    cfg.run.checkpoint_every = std::max<int64_t>(1, cfg.run.presentations / 5);  // chunks end at every checkpoint
    const int64_t stop = 2 * cfg.run.checkpoint_every;
    RecordingObserver full;
    const RunResult whole = run_one(*gpu, cfg, full);
    RecordingObserver part;
    part.stop_after = stop;
    const RunResult first = run_one(*gpu, cfg, part);
    ASSERT_EQ(first.status, RunStatus::interrupted);
    EXPECT_EQ(first.state.presentation, stop);
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

TEST_P(CudaBackendTest, DivergenceIsReportedLikeTheCpu) {
    SimConfig cfg = base_ei(Integrator::euler);  // full-length presentations: divergence takes a few
    cfg.plasticity.lr = 50.0;
    cfg.plasticity.schedule = ScheduleKind::constant;
    cfg.plasticity.delay_steps = 0;
    RecordingObserver a, b;
    const RunResult ra = run_one(*make_cpu_backend(), cfg, a);
    ASSERT_EQ(ra.status, RunStatus::diverged);  // the premise, checked without a GPU too (presentation 3)
    REQUIRE_RUNNABLE();
    const RunResult rb = run_one(*target().make(DevicePrecision::fp64), cfg, b);
    EXPECT_EQ(rb.status, RunStatus::diverged);
    EXPECT_EQ(ra.state.presentation, rb.state.presentation);
    EXPECT_EQ(ra.message, rb.message);
    EXPECT_EQ(a.steps, b.steps);
}

INSTANTIATE_TEST_SUITE_P(Emulated, CudaBackendTest, ::testing::Values(kEmulated), target_name);
INSTANTIATE_TEST_SUITE_P(Device, CudaBackendTest, ::testing::Values(kDevice), target_name);

// Single-layer batches share the stacks' memory budget (src/cuda/batching.hpp):
// a device with room for two runs at a time cuts a batch of three runs of one
// key into slices of two and one, and each run is still, bit for bit, the run
// of its own.
namespace {
size_t g_layer_room = 0;  // bytes the fake device reports free (0: the emulator's)
const char* layer_room_mem_info(size_t* free_b, size_t* total_b) {
    const char* e = cuda::emulated::api().mem_info(free_b, total_b);
    if (g_layer_room) *free_b = g_layer_room;
    return e;
}
}  // namespace

TEST(EmulatedLayerBatch, SlicedByTheMemoryBudgetAndEqualToRunsOfTheirOwn) {
    SimConfig base = for_target(base_ei(Integrator::euler), kEmulated);
    base.run.presentations = 2;
    base.run.checkpoint_every = 1;
    base.run.precision = Precision::fp64;
    validate(base);
    const RunPlan plan = make_plan(base);
    static cuda::DeviceApi roomy = cuda::emulated::api();
    roomy.mem_info = &layer_room_mem_info;
    g_layer_room = 2 * static_cast<size_t>(batch_device_bytes(base, plan, 2, DevicePrecision::fp64));
    ASSERT_EQ(batch_capacity(roomy, base, plan, DevicePrecision::fp64), 2);
    ASSERT_GT(batch_device_bytes(base, plan, 3, DevicePrecision::fp64),
              batch_device_bytes(base, plan, 2, DevicePrecision::fp64));
    std::vector<SimConfig> cfgs;
    for (int s = 0; s < 3; ++s) {
        SimConfig x = base;
        x.run.seed = 300 + s;
        x.dynamics.alpha = 5.0 + 5.0 * s;  // a per-run scalar: the same key
        cfgs.push_back(x);
    }
    ASSERT_EQ(batch_key(cfgs[0], plan, DevicePrecision::fp64), batch_key(cfgs[2], plan, DevicePrecision::fp64));
    const std::vector<std::vector<size_t>> slices =
        batch_slices(roomy, cfgs, {plan, plan, plan}, std::vector<DevicePrecision>(3, DevicePrecision::fp64));
    ASSERT_EQ(slices, (std::vector<std::vector<size_t>>{{0, 1}, {2}}));
    auto backend = make_cuda_backend_on(roomy, DevicePrecision::fp64);
    std::vector<CheckpointLog> obs(cfgs.size());
    std::vector<RunObserver*> ptrs;
    for (auto& o : obs) ptrs.push_back(&o);
    const auto batch = backend->run_batch(cfgs, ptrs);
    g_layer_room = 0;
    for (size_t i = 0; i < cfgs.size(); ++i) {
        CheckpointLog one;
        const RunResult r = run_one(*backend, cfgs[i], one);
        EXPECT_EQ(obs[i].steps, one.steps) << i;
        EXPECT_EQ(obs[i].values, one.values) << i;
        EXPECT_EQ(obs[i].checkpoints, one.checkpoints) << i;
        EXPECT_EQ(batch[i].state.layers[0].w, r.state.layers[0].w) << i;
        EXPECT_EQ(batch[i].state.layers[0].r, r.state.layers[0].r) << i;
    }
}
