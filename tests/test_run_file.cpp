// SPDX-License-Identifier: BSD-3-Clause
// HDF5 output: round trip, resume bit-identical to a straight run, divergence,
// interruption by a signal, and thread-count independence.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "dynshare/single_layer.hpp"
#include "io/config_yaml.hpp"
#include "io/h5.hpp"
#include "io/run_file.hpp"
#include "test_helpers.hpp"

using namespace dynshare;

namespace {
SimConfig small_run() {
    SimConfig cfg;
    cfg.layer.neurons = 20;
    cfg.layer.kernel = 3;
    cfg.run.presentations = 40;
    cfg.run.checkpoint_every = 5;
    return cfg;
}

// Runs cfg into `path`, stopping after `stop_after` presentations when >= 0.
RunResult run_to_file(const SimConfig& cfg, const std::string& path, int64_t stop_after = -1) {
    h5::Handle f = h5::open_file(path, h5::Mode::create_exclusive);
    RunGroupWriter w(f.id(), cfg, to_yaml(cfg), false);
    int64_t done = 0;
    w.progress = [&done](int64_t d, int64_t) { done = d; };
    w.stop = [&] { return stop_after >= 0 && done >= stop_after; };
    const RunResult r = run_single_layer(cfg, w);
    w.finish(r);
    return r;
}

void resume_file(const std::string& path) {
    h5::Handle f = h5::open_file(path, h5::Mode::read_write);
    const SimConfig cfg = parse_config(h5::attr_string(f.id(), "config"), {}, path);
    const RunState ck = read_checkpoint(f.id());
    truncate_records(f.id(), ck.step);
    RunGroupWriter w(f.id(), cfg, "", true);
    w.finish(run_single_layer(cfg, w, &ck));
}

void expect_same_datasets(const std::string& a, const std::string& b) {
    h5::Handle fa = h5::open_file(a, h5::Mode::read_only), fb = h5::open_file(b, h5::Mode::read_only);
    for (const char* d : {"snr/neg_log_snr", "snr/time", "weights/initial", "weights/final", "snr/theory_min",
                          "checkpoint/v", "checkpoint/r"})
        EXPECT_EQ(h5::read_doubles(fa.id(), d), h5::read_doubles(fb.id(), d)) << d;  // bit-identical
    EXPECT_EQ(h5::read_ints(fa.id(), "snr/step"), h5::read_ints(fb.id(), "snr/step"));
    EXPECT_EQ(h5::attr_int(fa.id(), "complete"), h5::attr_int(fb.id(), "complete"));
}

int run_cli(const std::string& args) {
    const int st = std::system((std::string(DYNSHARE_CLI) + " " + args + " 2>/dev/null").c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
}  // namespace

TEST(RunFile, RoundTrip) {
    TempDir dir;
    const SimConfig cfg = small_run();
    RecordingObserver obs;
    const RunResult direct = run_single_layer(cfg, obs);
    run_to_file(cfg, dir.file("a.h5"));
    h5::Handle f = h5::open_file(dir.file("a.h5"), h5::Mode::read_only);
    EXPECT_EQ(h5::attr_int(f.id(), "complete"), 1);
    EXPECT_EQ(h5::attr_uint(f.id(), "seed"), 0u);
    EXPECT_EQ(to_yaml(parse_config(h5::attr_string(f.id(), "config"), {}, "a")), to_yaml(cfg));
    std::vector<hsize_t> dims;
    EXPECT_EQ(h5::read_doubles(f.id(), "weights/final", &dims), direct.state.layers[0].w);
    EXPECT_EQ(dims, (std::vector<hsize_t>{20, 9}));
    const auto nls = h5::read_doubles(f.id(), "snr/neg_log_snr");
    ASSERT_EQ(nls.size(), obs.values.size());
    for (size_t i = 0; i < nls.size(); ++i) EXPECT_EQ(nls[i], obs.values[i][0]);
    EXPECT_EQ(h5::read_ints(f.id(), "snr/step"), obs.steps);
    EXPECT_EQ(h5::read_doubles(f.id(), "snr/theory_min")[0], direct.theory_min);
}

TEST(RunFile, InterruptedThenResumedIsBitIdentical) {
    TempDir dir;
    const SimConfig cfg = small_run();
    run_to_file(cfg, dir.file("straight.h5"));
    const RunResult part = run_to_file(cfg, dir.file("resumed.h5"), 13);
    EXPECT_EQ(part.status, RunStatus::interrupted);
    {
        h5::Handle f = h5::open_file(dir.file("resumed.h5"), h5::Mode::read_only);
        EXPECT_EQ(h5::attr_int(f.id(), "complete"), 0);
        EXPECT_EQ(h5::attr_int(f.id(), "presentations_done"), 13);
    }
    resume_file(dir.file("resumed.h5"));
    expect_same_datasets(dir.file("straight.h5"), dir.file("resumed.h5"));
}

TEST(RunFile, DivergenceStopsWithStepAndKeepsRecords) {
    TempDir dir;
    SimConfig cfg = small_run();
    cfg.plasticity.lr = 5.0;  // far beyond stability
    cfg.plasticity.schedule = ScheduleKind::constant;
    const RunResult r = run_to_file(cfg, dir.file("d.h5"));
    ASSERT_EQ(r.status, RunStatus::diverged);
    EXPECT_NE(r.message.find("step"), std::string::npos);
    h5::Handle f = h5::open_file(dir.file("d.h5"), h5::Mode::read_only);
    EXPECT_EQ(h5::attr_int(f.id(), "complete"), 0);
    const auto nls = h5::read_doubles(f.id(), "snr/neg_log_snr");
    const auto steps = h5::read_ints(f.id(), "snr/step");
    ASSERT_GE(nls.size(), 1u);
    // No record holds a non-finite value: they end at the last finite state,
    // before the step where the divergence was detected.
    for (double v : nls) EXPECT_TRUE(std::isfinite(v)) << v;
    EXPECT_GT(h5::attr_int(f.id(), "diverged_at_step"), steps.back());
    EXPECT_EQ(h5::attr_int(f.id(), "diverged_at_step"), r.diverged_at_step);
    EXPECT_FALSE(h5::exists(f.id(), "weights/final"));
}

// The README's example: plasticity.lr = 0.1 makes the weights grow until
// their variance overflows; every record before that is finite and the run
// stops at the first record that cannot be computed (before this rule, 46
// records of -inf were written first).
TEST(RunFile, OverflowingRecordsStopTheRun) {
    SimConfig cfg;
    cfg.plasticity.lr = 0.1;
    cfg.run.presentations = 2000;
    validate(cfg);
    RecordingObserver obs;
    const RunResult r = run_single_layer(cfg, obs);
    ASSERT_EQ(r.status, RunStatus::diverged);
    ASSERT_FALSE(obs.values.empty());
    for (const auto& v : obs.values) EXPECT_TRUE(std::isfinite(v[0])) << v[0];
    EXPECT_GT(r.diverged_at_step, obs.steps.back());
    EXPECT_LT(r.state.presentation, 2000);
}

TEST(RunFileCli, SameOutputForOneAndTwoThreads) {
    TempDir dir;
    const std::string common = " --set run.presentations=50 --set layer.kernel=3 --quiet";
    ASSERT_EQ(run_cli("simulate -o " + dir.file("t1.h5") + " --threads 1" + common), 0);
    ASSERT_EQ(run_cli("simulate -o " + dir.file("t2.h5") + " --threads 2" + common), 0);
    expect_same_datasets(dir.file("t1.h5"), dir.file("t2.h5"));
}

TEST(RunFileCli, RefusesToOverwriteAndWritesNothingOnBadInput) {
    TempDir dir;
    const std::string out = dir.file("x.h5");
    ASSERT_EQ(run_cli("simulate -o " + out + " --set run.presentations=2 --quiet"), 0);
    EXPECT_EQ(run_cli("simulate -o " + out + " --set run.presentations=2 --quiet"), 2);
    EXPECT_EQ(run_cli("simulate -o " + out + " --set run.presentations=2 --quiet --overwrite"), 0);
    EXPECT_EQ(run_cli("simulate -o " + dir.file("y.h5") + " --set dynamics.tau=-1"), 2);
    EXPECT_EQ(run_cli("simulate -o " + dir.file("y.h5") + " --bogus"), 2);
    EXPECT_EQ(run_cli("simulate " + dir.file("missing.yaml") + " -o " + dir.file("y.h5")), 2);
    EXPECT_FALSE(std::filesystem::exists(dir.file("y.h5")));
}

// SIGINT mid-run: exit 130, a valid file with complete = 0; --resume then
// completes it, bit-identical to a run that went straight through.
TEST(RunFileCli, SigintLeavesValidFileAndResumeCompletesIt) {
    TempDir dir;
    // Long enough (~1 s in Release) that the signal lands mid-run even on an idle machine.
    const std::string args = " --set run.presentations=20000 --set run.checkpoint_every=50 --quiet";
    ASSERT_EQ(run_cli("simulate -o " + dir.file("straight.h5") + args), 0);
    const std::string out = dir.file("cut.h5");
    const pid_t pid = fork();
    if (pid == 0) {
        const std::string cmd = std::string(DYNSHARE_CLI) + " simulate -o " + out + args + " 2>/dev/null";
        execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // The handlers are installed before the output file is created: wait for
    // the file (slow starts under sanitizers), then let the run get going.
    for (int i = 0; i < 400 && !std::filesystem::exists(out); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    kill(pid, SIGINT);
    int st = 0;
    waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFEXITED(st));
    const int code = WEXITSTATUS(st);
    if (code == 0) GTEST_SKIP() << "the run finished before the signal arrived";
    EXPECT_EQ(code, 130);
    {
        h5::Handle f = h5::open_file(out, h5::Mode::read_only);
        EXPECT_EQ(h5::attr_int(f.id(), "complete"), 0);
    }
    EXPECT_EQ(run_cli("simulate --resume " + out + " --quiet"), 0);
    expect_same_datasets(dir.file("straight.h5"), out);
}
