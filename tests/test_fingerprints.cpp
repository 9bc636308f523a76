// SPDX-License-Identifier: BSD-3-Clause
// The one-engine restructuring (issue 10) must not change any output: every
// run recorded in tests/data/fingerprints/ by the engines of commit 2669326
// (make_fingerprints.sh there says how) is rerun from its stored config with
// today's engine and must give the same -log SNR_w records and final weights,
// bit for bit (fp64, CPU). A second test reruns them with run.precision =
// fp32 and bounds the distance (the float instantiation of the same model).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "dynshare/engine.hpp"
#include "dynshare/plan.hpp"
#include "io/config_yaml.hpp"
#include "io/h5.hpp"
#include "test_helpers.hpp"

using namespace dynshare;

namespace {

struct Fingerprint {
    std::string name;
    SimConfig cfg;
    std::vector<int64_t> steps;
    std::vector<double> nls;               // (layers, records) row-major, or (records) for one layer
    std::vector<double> mas;               // stacks only
    std::vector<std::vector<double>> w;    // final weights per layer
};

std::vector<Fingerprint> load_all() {
    std::vector<Fingerprint> out;
    const std::filesystem::path dir = std::filesystem::path(DYNSHARE_SOURCE_DIR) / "tests/data/fingerprints";
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".h5") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
        h5::Handle f = h5::open_file(path.string(), h5::Mode::read_only);
        Fingerprint fp;
        fp.name = path.stem().string();
        fp.cfg = parse_config(h5::attr_string(f.id(), "config"), {}, path.string());
        // Recorded presentation by presentation, before dynamics.block existed;
        // the default block (40) gives the same runs up to rounding (tested below).
        fp.cfg.dynamics.block = 1;
        fp.steps = h5::read_ints(f.id(), "snr/step");
        fp.nls = h5::read_doubles(f.id(), "snr/neg_log_snr");
        if (fp.cfg.stack.enabled) {
            fp.mas = h5::read_doubles(f.id(), "snr/mean_abs_over_std");
            for (size_t l = 0; l < fp.cfg.stack.layers.size(); ++l)
                fp.w.push_back(h5::read_doubles(f.id(), "layers/" + std::to_string(l) + "/weights_final"));
        } else {
            fp.w.push_back(h5::read_doubles(f.id(), "weights/final"));
        }
        out.push_back(std::move(fp));
    }
    return out;
}

// Records as the file stores them: (layers, records), layer-major.
std::vector<double> by_layer(const std::vector<std::vector<double>>& records) {
    std::vector<double> out;
    if (records.empty()) return out;
    const size_t L = records[0].size();
    for (size_t l = 0; l < L; ++l)
        for (const auto& r : records) out.push_back(r.at(l));
    return out;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
    double d = 0.0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        if (a[i] == b[i]) continue;  // also equal infinities
        d = std::max(d, std::abs(a[i] - b[i]) / std::max(1e-300, std::abs(b[i])));
    }
    return a.size() == b.size() ? d : INFINITY;
}

// max_i |a_i - b_i| and max_i |b_i| (b the fingerprint's weights).
std::pair<double, double> max_abs_diff_and_scale(const std::vector<double>& a, const std::vector<double>& b) {
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < b.size(); ++i) {
        scale = std::max(scale, std::abs(b[i]));
        diff = std::max(diff, std::abs(a.at(i) - b[i]));
    }
    return {diff, scale};
}

struct Rerun {
    RecordingObserver obs;
    RunResult result;
};

Rerun rerun(SimConfig cfg) {
    Rerun r;
    r.result = run_engine(cfg, make_plan(cfg), {}, r.obs);
    return r;
}

}  // namespace

TEST(Fingerprints, AllPresent) { EXPECT_EQ(load_all().size(), 6u); }

TEST(Fingerprints, Fp64RunsAreBitIdenticalToTheEnginesBeforeTheRestructuring) {
    for (const Fingerprint& fp : load_all()) {
        SCOPED_TRACE(fp.name);
        const Rerun r = rerun(fp.cfg);
        ASSERT_EQ(r.result.status, RunStatus::complete);
        EXPECT_EQ(r.obs.steps, fp.steps);
        const std::vector<double> nls = by_layer(r.obs.values);
        EXPECT_EQ(nls, fp.nls) << "max relative difference " << max_rel_diff(nls, fp.nls);
        if (!fp.mas.empty()) {
            const std::vector<double> mas = by_layer(r.obs.mas);
            EXPECT_EQ(mas, fp.mas) << "max relative difference " << max_rel_diff(mas, fp.mas);
        }
        ASSERT_EQ(r.result.state.layers.size(), fp.w.size());
        for (size_t l = 0; l < fp.w.size(); ++l)
            EXPECT_EQ(r.result.state.layers[l].w, fp.w[l])
                << "layer " << l << ": max relative difference " << max_rel_diff(r.result.state.layers[l].w, fp.w[l]);
    }
}

// fp32 runs the float instantiation of the same model functions. Tolerances:
// - weights: each float operation rounds at eps = 2^-24 = 6e-8 relative; the
//   stable rate dynamics damp what earlier steps did, so the accumulated
//   rounding of a weight stays a modest multiple of eps (measured: at most
//   1.4e-6 of the largest weight). Bound: 1e-5 of the largest weight.
// - -log SNR_w = l: the records' sums are double, but from float weights, so
//   each weight carries an absolute error ~ c eps |w|; the variance of a module
//   then errs by ~ 2 c eps |w| std, relative 2 c eps sqrt(mean^2 / var) =
//   2 c eps e^{-l/2}. Nearly shared modules (l = -16: e^{8} = 3000) amplify
//   float rounding; that is the metric, not an error. With c = 2000 ulp (the
//   worst measured is c ~ 1200, at l = -10.3 after 4500 steps):
//   |d l| <= 1e-6 + 2 * 2000 * eps * e^{-l/2}.
TEST(Fingerprints, Fp32RunsStayCloseToFp64) {
    for (const Fingerprint& fp : load_all()) {
        SCOPED_TRACE(fp.name);
        SimConfig cfg = fp.cfg;
        cfg.run.precision = Precision::fp32;
        const Rerun r = rerun(cfg);
        ASSERT_EQ(r.result.status, RunStatus::complete);
        ASSERT_EQ(r.obs.steps, fp.steps);
        const std::vector<double> nls = by_layer(r.obs.values);
        const double eps = std::ldexp(1.0, -24);
        for (size_t i = 0; i < nls.size(); ++i)
            EXPECT_LE(std::abs(nls[i] - fp.nls[i]), 1e-6 + 2 * 2000 * eps * std::exp(-fp.nls[i] / 2))
                << "record " << i << ": fp64 " << fp.nls[i] << ", fp32 " << nls[i];
        for (size_t l = 0; l < fp.w.size(); ++l) {
            const auto [diff, scale] = max_abs_diff_and_scale(r.result.state.layers[l].w, fp.w[l]);
            EXPECT_LT(diff, 1e-5 * scale) << "layer " << l;
        }
        // And fp32 is really float arithmetic: not bit-identical to fp64.
        EXPECT_NE(r.result.state.layers[0].w, fp.w[0]);
    }
}

// The default dynamics.block (40) integrates blocks of presentations through
// matrix products (src/core/block.hpp): the same runs as presentation by
// presentation up to rounding, 1e-10 of the largest weight per layer. (The
// fingerprints with input noise, or records at every presentation, run
// presentation by presentation whatever the block, and stay bit for bit.)
TEST(Fingerprints, TheDefaultBlockGivesTheSameRunsUpToRounding) {
    const int64_t default_block = DynamicsParams{}.block;
    ASSERT_GT(default_block, 1);
    int blocked = 0;
    for (const Fingerprint& fp : load_all()) {
        SCOPED_TRACE(fp.name);
        SimConfig cfg = fp.cfg;
        cfg.dynamics.block = default_block;
        const Rerun r = rerun(cfg);
        ASSERT_EQ(r.result.status, RunStatus::complete);
        ASSERT_EQ(r.obs.steps, fp.steps);
        ASSERT_EQ(r.result.state.layers.size(), fp.w.size());
        bool same = true;
        for (size_t l = 0; l < fp.w.size(); ++l) {
            const auto [diff, scale] = max_abs_diff_and_scale(r.result.state.layers[l].w, fp.w[l]);
            EXPECT_LE(diff, 1e-10 * scale) << "layer " << l;
            same = same && r.result.state.layers[l].w == fp.w[l];
        }
        blocked += same ? 0 : 1;
    }
    // At least one fingerprint really ran in blocks (its last bits moved).
    EXPECT_GE(blocked, 1);
}
