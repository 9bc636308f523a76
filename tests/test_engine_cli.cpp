// SPDX-License-Identifier: BSD-3-Clause
// The one engine from the command line: bad input added with it (run.precision,
// --backend cuda for what the device does not run) is refused with one line and
// exit 2 before any output is created or touched; fp32 runs resume bit-identically.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "dynshare/backend.hpp"
#include "dynshare/single_layer.hpp"
#include "test_helpers.hpp"

using namespace dynshare;

namespace {

struct CliResult {
    int status = -1;
    std::string err;  // stdout and stderr together
};

CliResult cli(const std::string& args) {
    CliResult r;
    FILE* p = popen((std::string(DYNSHARE_CLI) + " " + args + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) r.err += buf;
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

int lines(const std::string& s) {
    int n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

const std::string kStack = std::string(DYNSHARE_SOURCE_DIR) + "/tests/data/fingerprints/stack_small.yaml";

}  // namespace

TEST(EngineCli, PrecisionOtherThanFp32OrFp64NamesTheKeyAndTheValues) {
    TempDir dir;
    const CliResult r = cli("simulate -o " + dir.file("p.h5") + " --set run.precision=fp16");
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("run.precision"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("fp32"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("fp64"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(dir.file("p.h5")));
}

TEST(EngineCli, CudaRefusalsComeBeforeAnyOutputIsTouched) {
    TempDir dir;
    const std::string out = dir.file("keep.h5");
    ASSERT_EQ(cli("simulate -o " + out + " --set run.presentations=3 --quiet --backend cpu").status, 0);
    const std::string before = slurp(out);
    ASSERT_FALSE(before.empty());
    std::string why;
    const bool gpu = cuda_usable(&why);
    // A stacked config: refused by the CUDA backend (stacked kernels do not exist
    // yet), or, without a device, by the factory. Either way one line, exit 2.
    for (const std::string& cfg : {kStack + " --set run.presentations=2", std::string("--set run.presentations=2")}) {
        if (gpu && cfg.find("stack") == std::string::npos) continue;  // a single layer runs on a GPU
        SCOPED_TRACE(cfg);
        const CliResult r = cli("simulate " + cfg + " -o " + out + " --overwrite --backend cuda");
        EXPECT_EQ(r.status, 2);
        EXPECT_EQ(lines(r.err), 1) << r.err;
        EXPECT_NE(r.err.find("--backend cuda"), std::string::npos) << r.err;
        EXPECT_EQ(slurp(out), before) << "the existing output was touched";
        const CliResult n = cli("simulate " + cfg + " -o " + dir.file("new.h5") + " --backend cuda");
        EXPECT_EQ(n.status, 2);
        EXPECT_FALSE(exists(dir.file("new.h5")));
    }
    // auto falls back to the CPU for a plan the device cannot run.
    EXPECT_EQ(cli("simulate " + kStack + " --set run.presentations=2 --set run.record_every=150 -o " +
                  dir.file("auto.h5") + " --quiet")
                  .status,
              0);
}

TEST(EngineCli, SweepWithCudaRefusesBeforeTheFileExists) {
    std::string why;
    if (cuda_usable(&why)) GTEST_SKIP() << "a GPU is present";
    TempDir dir;
    const std::string sweep = dir.file("s.yaml");
    std::ofstream(sweep) << "base: " << DYNSHARE_SOURCE_DIR << "/experiments/fig4b.yaml\n"
                         << "set: {run.presentations: 2}\ngrid: {dynamics.alpha: [3, 10]}\n";
    const CliResult r = cli("sweep " + sweep + " -o " + dir.file("s.h5") + " --backend cuda");
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_FALSE(exists(dir.file("s.h5")));
}

// fp32 is a full engine mode: interrupted and resumed, it gives the same bits
// as a straight fp32 run (checkpoints hold the float state exactly in double).
TEST(EngineCli, Fp32ResumeIsBitIdentical) {
    for (Integrator integ : {Integrator::euler, Integrator::exponential}) {
        SimConfig cfg;
        cfg.layer.neurons = 30;
        cfg.layer.kernel = 4;
        cfg.run.presentations = 40;
        cfg.run.record_every = 75;
        cfg.run.checkpoint_every = 7;
        cfg.dynamics.integrator = integ;
        cfg.run.precision = Precision::fp32;
        validate(cfg);
        RecordingObserver straight;
        const RunResult a = run_single_layer(cfg, straight);
        struct Stop : RecordingObserver {
            RunState last;
            void on_checkpoint(const RunState& s) override { last = s; }
        } part;
        part.stop_after = 15;
        const RunResult p = run_single_layer(cfg, part);
        ASSERT_EQ(p.status, RunStatus::interrupted);
        ASSERT_EQ(part.last.presentation, 14);
        RecordingObserver rest;
        const RunResult b = run_single_layer(cfg, rest, &part.last);
        EXPECT_EQ(a.state.layers[0].w, b.state.layers[0].w);
        EXPECT_EQ(a.state.layers[0].r, b.state.layers[0].r);
        EXPECT_EQ(straight.values.back(), rest.values.back());
    }
}

// dynshare bench --sleep at toy sizes: every case runs (block 1 and the
// listed blocks, best of 2), and the report holds their rows, the kernels in
// use and the GEMM-rate table.
TEST(EngineCli, BenchSleepWritesItsReport) {
    const std::string report = ::testing::TempDir() + "/bench_sleep_report.md";
    std::remove(report.c_str());
    const CliResult r = cli("bench --sleep --config " + kStack +
                            " --presentations 3 --fig4b-presentations 3 --block 2,3 --repeats 2 --threads 2 -o " +
                            report);
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string md = slurp(report);
    for (const char* row : {"| ResNet-20 sleep phase | 3 | 1 |", "| ResNet-20 sleep phase | 3 | 2 |",
                            "| ResNet-20 sleep phase | 3 | 3 |", "| Fig. 4B curve (k = 9) | 3 | 3 |",
                            "block kernels: ", "| 576 | 3 |", "best of 2 runs",
                            // the default block (here the largest, 3) in fp32 and with huge pages;
                            // the phases; the goals
                            "| ResNet-20 sleep phase | 3 | 3 | fp32 |",
                            "| ResNet-20 sleep phase | 3 | 3 | fp64, huge pages |",
                            "| population (GiB) | set-up |", "| ResNet-20 sleep phase | 3 | 2 | fp64 | ",
                            "effective block-GEMM rate >= 50 %", "in a fresh process: <= 1 s", "fp32 >= 1.6x faster"})
        EXPECT_NE(md.find(row), std::string::npos) << row << "\n" << md;
    std::remove(report.c_str());
}
