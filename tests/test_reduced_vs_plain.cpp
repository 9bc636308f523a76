// SPDX-License-Identifier: BSD-3-Clause
// The reduced-coordinate Euler (O(N) per step) must follow the plain loop
// (O(N k^2) per step, the paper's equations as written) to rounding.
#include <gtest/gtest.h>

#include <cmath>

#include "core/reference_euler.hpp"
#include "dynshare/single_layer.hpp"
#include "test_helpers.hpp"

using namespace dynshare;

namespace {
SimConfig small_config(ModelKind model, double noise) {
    SimConfig c;
    c.model = model;
    c.layer.neurons = 12;
    c.layer.kernel = 3;
    c.run.presentations = model == ModelKind::ideal ? 300 : 30;
    c.run.record_every = model == ModelKind::ideal ? 10 : 75;
    c.input.noise_std = noise;
    if (model == ModelKind::ideal) {
        c.plasticity.lr = 0.05;
        c.plasticity.schedule = ScheduleKind::inv;
        c.plasticity.schedule_t0 = 10;
        c.plasticity.delay_steps = 0;
    }
    return c;
}

void expect_same_run(const SimConfig& cfg) {
    const ReferenceResult ref = reference_euler_run(cfg);
    RecordingObserver obs;
    const RunResult res = run_single_layer(cfg, obs);
    ASSERT_EQ(res.status, RunStatus::complete);
    // Records: engine has step 0 first, the reference does not.
    ASSERT_EQ(obs.values.size(), ref.neg_log_snr.size() + 1);
    for (size_t i = 0; i < ref.neg_log_snr.size(); ++i)
        EXPECT_NEAR(obs.values[i + 1][0], ref.neg_log_snr[i], 1e-9 * (1 + std::abs(ref.neg_log_snr[i]))) << i;
    // Weights to rounding: the reduced form sums the same terms in another
    // order, so agreement is to ~1e-12 relative after thousands of steps.
    double max_rel = 0.0;
    for (size_t i = 0; i < ref.w.size(); ++i)
        max_rel = std::max(max_rel, std::abs(res.state.layers[0].w[i] - ref.w[i]) / (1.0 + std::abs(ref.w[i])));
    EXPECT_LT(max_rel, 1e-10);
    for (size_t i = 0; i < ref.r.size() && cfg.model == ModelKind::ei_rate; ++i)
        EXPECT_NEAR(res.state.layers[0].r[i], ref.r[i], 1e-9 * (1 + std::abs(ref.r[i])));
}
}  // namespace

TEST(ReducedVsPlain, EiRateEulerMatchesPlainLoop) { expect_same_run(small_config(ModelKind::ei_rate, 0.0)); }
TEST(ReducedVsPlain, EiRateEulerWithInputNoise) { expect_same_run(small_config(ModelKind::ei_rate, 0.3)); }
TEST(ReducedVsPlain, IdealMatchesPlainLoop) { expect_same_run(small_config(ModelKind::ideal, 0.0)); }
TEST(ReducedVsPlain, RecordsNotAlignedWithPresentations) {
    SimConfig c = small_config(ModelKind::ei_rate, 0.0);
    c.run.record_every = 97;  // records fall inside presentations
    expect_same_run(c);
}
