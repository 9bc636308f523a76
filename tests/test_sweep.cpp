// SPDX-License-Identifier: BSD-3-Clause
// `dynshare sweep` and `dynshare merge` end to end (through the built CLI):
// a sweep run equals the same config run alone, files do not depend on the
// number of threads, resume and shard + merge give the same file as a
// straight run, and bad input is refused with exit status 2.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "dynshare/single_layer.hpp"
#include "io/config_yaml.hpp"
#include "io/h5.hpp"
#include "io/sweep_config.hpp"
#include "io/sweep_file.hpp"
#include "test_helpers.hpp"

namespace dynshare {
namespace {

namespace fs = std::filesystem;

void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Cli {
    int status;
    std::string err;  // stderr
};

// Runs `dynshare <args>` with the working directory `dir`.
Cli dynshare(const TempDir& dir, const std::string& args) {
    const std::string err = dir.file("stderr.txt");
    const std::string cmd = "cd '" + dir.path.string() + "' && '" + std::string(DYNSHARE_CLI) + "' " + args +
                            " 2> '" + err + "' > /dev/null";
    const int rc = std::system(cmd.c_str());
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, read_text(err)};
}

const char* kBase =
    "model: ei_rate\n"
    "layer: {neurons: 20, kernel: 3}\n"
    "run: {presentations: 40, record_every: 50, seed: 7, checkpoint_every: 10}\n";

// 2 kernels x 2 gammas x 2 integrators (zipped list) = 8 points x 2 trials.
const char* kSweep =
    "base: base.yaml\n"
    "set: {run.presentations: 30}\n"
    "grid: {layer.kernel: [2, 3], plasticity.gamma: [0.1, 0.01]}\n"
    "lists: {dynamics.integrator: [euler, rk4]}\n"
    "trials: 2\n";
constexpr int64_t kRuns = 16;

void make_sweep(const TempDir& dir, const std::string& sweep = kSweep) {
    write_text(dir.file("base.yaml"), kBase);
    write_text(dir.file("sweep.yaml"), sweep);
}

// Bitwise, so that NaN (a non-numeric swept value in /sweep/params) equals itself.
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// Everything a run group holds that the sweep must reproduce.
struct RunData {
    std::vector<int64_t> step;
    std::vector<double> time, nls, w_initial, w_final, ck_w, ck_v, ck_r, theory_min;
    std::string config, status;
    uint64_t seed = 0;
    int64_t trial = 0, point = 0, index = 0, complete = 0;
    bool operator==(const RunData& o) const {
        return step == o.step && time == o.time && nls == o.nls && w_initial == o.w_initial && w_final == o.w_final &&
               ck_w == o.ck_w && ck_v == o.ck_v && ck_r == o.ck_r && theory_min == o.theory_min &&
               config == o.config && status == o.status && seed == o.seed && trial == o.trial && point == o.point &&
               index == o.index && complete == o.complete;
    }
};

struct FileData {
    std::map<int64_t, RunData> runs;
    std::vector<double> params;
    std::vector<hsize_t> params_dims;
    std::vector<int64_t> index;
    std::vector<std::string> columns;
    std::string sweep;
    int64_t complete = -1, runs_total = 0;
    // Same runs and tables (the shard attributes may differ).
    bool same_results(const FileData& o) const {
        return runs == o.runs && same_bits(params, o.params) && params_dims == o.params_dims && index == o.index &&
               columns == o.columns && sweep == o.sweep && complete == o.complete && runs_total == o.runs_total;
    }
};

FileData read_file(const std::string& path) {
    FileData d;
    h5::Handle f = h5::open_file(path, h5::Mode::read_only);
    d.sweep = h5::attr_string(f.id(), "sweep");
    d.complete = h5::attr_int(f.id(), "complete");
    d.runs_total = h5::attr_int(f.id(), "runs_total");
    d.params = h5::read_doubles(f.id(), "sweep/params", &d.params_dims);
    d.index = h5::read_ints(f.id(), "sweep/index");
    d.columns = sweep_columns(f.id());
    for (const auto& [i, status] : finished_runs(f.id())) {
        h5::Handle g = h5::group(f.id(), "runs/" + std::to_string(i));
        RunData r;
        r.step = h5::read_ints(g.id(), "snr/step");
        r.time = h5::read_doubles(g.id(), "snr/time");
        r.nls = h5::read_doubles(g.id(), "snr/neg_log_snr");
        r.w_initial = h5::read_doubles(g.id(), "weights/initial");
        r.w_final = h5::read_doubles(g.id(), "weights/final");
        r.ck_w = h5::read_doubles(g.id(), "checkpoint/w");
        r.ck_v = h5::read_doubles(g.id(), "checkpoint/v");
        r.ck_r = h5::read_doubles(g.id(), "checkpoint/r");
        r.theory_min = h5::read_doubles(g.id(), "snr/theory_min");
        r.config = h5::attr_string(g.id(), "config");
        r.status = status;
        r.seed = h5::attr_uint(g.id(), "seed");
        r.trial = h5::attr_int(g.id(), "trial");
        r.point = h5::attr_int(g.id(), "point");
        r.index = h5::attr_int(g.id(), "index");
        r.complete = h5::attr_int(g.id(), "complete");
        d.runs[i] = r;
    }
    return d;
}

TEST(SweepCli, RunEqualsTheSameConfigRunAlone) {
    TempDir dir;
    make_sweep(dir);
    const Cli cli = dynshare(dir, "sweep sweep.yaml -o out.h5 --threads 2 --quiet");
    ASSERT_EQ(cli.status, 0) << cli.err;
    const FileData file = read_file(dir.file("out.h5"));
    const SweepSpec spec = load_sweep(dir.file("sweep.yaml"), {});
    ASSERT_EQ(file.runs.size(), size_t(kRuns));
    EXPECT_EQ(file.complete, 1);
    EXPECT_EQ(file.runs_total, kRuns);
    EXPECT_EQ(file.columns, (std::vector<std::string>{"layer.kernel", "plasticity.gamma", "dynamics.integrator"}));
    ASSERT_EQ(file.params_dims, (std::vector<hsize_t>{kRuns, 3}));
    for (int64_t i = 0; i < kRuns; ++i) EXPECT_EQ(file.index[size_t(i)], i);

    for (int64_t i : {int64_t{0}, int64_t{5}, int64_t{14}}) {
        const RunData& r = file.runs.at(i);
        // The run alone, from the config and seed stored in the file.
        const SimConfig cfg = parse_config(r.config, {}, "config");
        EXPECT_EQ(cfg.run.seed, r.seed);
        EXPECT_EQ(r.seed, derive_run_seed(7, i));
        EXPECT_EQ(r.config, to_yaml(spec.runs[size_t(i)].config));
        RecordingObserver obs;
        const RunResult alone = run_single_layer(cfg, obs);
        ASSERT_EQ(alone.status, RunStatus::complete);
        EXPECT_EQ(obs.steps, r.step);
        EXPECT_EQ(obs.times, r.time);
        std::vector<double> nls;
        for (const auto& v : obs.values) nls.push_back(v.at(0));
        EXPECT_EQ(nls, r.nls);
        EXPECT_EQ(alone.state.layers[0].w, r.w_final);
        EXPECT_EQ(alone.state.layers[0].v, r.ck_v);
        EXPECT_EQ(r.trial, i % 2);
        EXPECT_EQ(r.point, i / 2);
        EXPECT_EQ(r.index, i);
        EXPECT_EQ(r.complete, 1);
    }
    // Swept values as attributes: numbers as float64, other values as text.
    h5::Handle f = h5::open_file(dir.file("out.h5"), h5::Mode::read_only);
    h5::Handle g = h5::group(f.id(), "runs/5");  // point 2: kernel 2, gamma 0.01, euler
    EXPECT_EQ(h5::attr_double(g.id(), "layer.kernel"), 2.0);
    EXPECT_EQ(h5::attr_double(g.id(), "plasticity.gamma"), 0.01);
    EXPECT_EQ(h5::attr_string(g.id(), "dynamics.integrator"), "euler");
    EXPECT_EQ(file.params[5 * 3 + 0], 2.0);
    EXPECT_EQ(file.params[5 * 3 + 1], 0.01);
    EXPECT_TRUE(std::isnan(file.params[5 * 3 + 2]));
    // The resolved sweep text; its base path is as found from the CLI's working directory.
    const std::string text = h5::attr_string(f.id(), "sweep");
    EXPECT_EQ(text.substr(0, text.find('\n')), "base: base.yaml");
    EXPECT_EQ(text.substr(text.find('\n')), spec.text.substr(spec.text.find('\n')));
    const std::vector<uint64_t> seeds = [&] {
        std::vector<uint64_t> s(kRuns);
        h5::Handle ds(H5Dopen2(f.id(), "sweep/seed", H5P_DEFAULT), H5Dclose);
        H5Dread(ds.id(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.data());
        return s;
    }();
    for (int64_t i = 0; i < kRuns; ++i) EXPECT_EQ(seeds[size_t(i)], derive_run_seed(7, i));
}

// Every dataset under `loc` (path -> shape, max shape, bytes).
struct DatasetInfo {
    std::vector<hsize_t> dims, maxdims;
    std::vector<char> bytes;
    bool operator==(const DatasetInfo& o) const { return dims == o.dims && maxdims == o.maxdims && bytes == o.bytes; }
};
std::map<std::string, DatasetInfo> datasets(hid_t loc) {
    std::map<std::string, DatasetInfo> out;
    H5Lvisit(
        loc, H5_INDEX_NAME, H5_ITER_INC,
        [](hid_t group, const char* name, const H5L_info_t*, void* op) -> herr_t {
            h5::Handle obj(H5Oopen(group, name, H5P_DEFAULT), H5Oclose);
            if (H5Iget_type(obj.id()) != H5I_DATASET) return 0;
            h5::Handle space(H5Dget_space(obj.id()), H5Sclose), type(H5Dget_type(obj.id()), H5Tclose);
            DatasetInfo d;
            const int rank = H5Sget_simple_extent_ndims(space.id());
            d.dims.resize(size_t(rank));
            d.maxdims.resize(size_t(rank));
            H5Sget_simple_extent_dims(space.id(), d.dims.data(), d.maxdims.data());
            d.bytes.resize(size_t(H5Sget_simple_extent_npoints(space.id())) * H5Tget_size(type.id()));
            if (!d.bytes.empty()) H5Dread(obj.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, d.bytes.data());
            (*static_cast<std::map<std::string, DatasetInfo>*>(op))[name] = d;
            return 0;
        },
        &out);
    return out;
}

std::vector<std::string> attr_names(hid_t obj) {
    std::vector<std::string> out;
    H5Aiterate2(
        obj, H5_INDEX_NAME, H5_ITER_INC, nullptr,
        [](hid_t, const char* name, const H5A_info_t*, void* op) -> herr_t {
            static_cast<std::vector<std::string>*>(op)->push_back(name);
            return 0;
        },
        &out);
    return out;
}

TEST(SweepCli, RunGroupHasTheLayoutOfASimulateFile) {
    TempDir dir;
    make_sweep(dir);
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o out.h5 --quiet").status, 0);
    const int64_t i = 13;  // kernel 3, gamma 0.01, rk4, trial 1
    const SweepSpec spec = load_sweep(dir.file("sweep.yaml"), {});
    std::string sets = "--set run.presentations=30";
    for (const auto& [key, value] : spec.runs[i].values) sets += " --set " + key + "=" + value;
    sets += " --set run.seed=" + std::to_string(derive_run_seed(7, i));
    const Cli sim = dynshare(dir, "simulate base.yaml -o alone.h5 --quiet " + sets);
    ASSERT_EQ(sim.status, 0) << sim.err;

    h5::Handle sweep = h5::open_file(dir.file("out.h5"), h5::Mode::read_only);
    h5::Handle alone = h5::open_file(dir.file("alone.h5"), h5::Mode::read_only);
    h5::Handle run = h5::group(sweep.id(), "runs/" + std::to_string(i));
    const auto a = datasets(alone.id()), b = datasets(run.id());
    ASSERT_FALSE(a.empty());
    EXPECT_EQ(a.size(), b.size());
    for (const auto& [name, d] : a) {
        ASSERT_TRUE(b.count(name)) << name;
        EXPECT_TRUE(d == b.at(name)) << name;
    }
    for (const std::string& name : attr_names(alone.id()))
        EXPECT_TRUE(h5::has_attr(run.id(), name)) << name;
    EXPECT_EQ(h5::attr_string(alone.id(), "config"), h5::attr_string(run.id(), "config"));
    EXPECT_EQ(h5::attr_string(run.id(), "status"), "complete");
}

TEST(SweepCli, OneAndTwoThreadsWriteTheSameData) {
    TempDir dir;
    make_sweep(dir);
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o t1.h5 --threads 1 --quiet").status, 0);
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o t2.h5 --threads 2 --quiet").status, 0);
    const FileData a = read_file(dir.file("t1.h5")), b = read_file(dir.file("t2.h5"));
    EXPECT_EQ(a.runs.size(), size_t(kRuns));
    EXPECT_TRUE(a.same_results(b));
}

TEST(SweepCli, ResumeAfterSomeRunsEqualsAStraightRun) {
    TempDir dir;
    make_sweep(dir);
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o straight.h5 --quiet").status, 0);
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o shard.h5 --shard 1/3 --quiet").status, 0);
    const FileData shard = read_file(dir.file("shard.h5"));
    EXPECT_EQ(shard.runs.size(), 5u);  // 1, 4, 7, 10, 13
    EXPECT_EQ(shard.complete, 1);      // complete for its shard
    // A shard resumes as itself only (issue 28): without --shard it would be
    // relabelled and filled with the other shards' runs.
    const Cli other = dynshare(dir, "sweep sweep.yaml -o shard.h5 --resume");
    EXPECT_EQ(other.status, 2);
    EXPECT_NE(other.err.find("--shard 1/3"), std::string::npos) << other.err;
    EXPECT_EQ(dynshare(dir, "sweep sweep.yaml -o shard.h5 --resume --shard 0/3").status, 2);
    EXPECT_EQ(dynshare(dir, "sweep sweep.yaml -o shard.h5 --resume --shard 1/3").status, 0);
    // Merged, the shard is an incomplete whole sweep, which --resume finishes.
    ASSERT_EQ(dynshare(dir, "merge part.h5 shard.h5 --quiet").status, 0);
    const Cli resumed = dynshare(dir, "sweep sweep.yaml -o part.h5 --resume");
    ASSERT_EQ(resumed.status, 0) << resumed.err;
    EXPECT_NE(resumed.err.find("11 now, 5 kept"), std::string::npos) << resumed.err;
    EXPECT_TRUE(read_file(dir.file("part.h5")).same_results(read_file(dir.file("straight.h5"))));
    // Nothing left to do.
    const Cli again = dynshare(dir, "sweep sweep.yaml -o part.h5 --resume");
    EXPECT_EQ(again.status, 0);
    EXPECT_NE(again.err.find("0 now, 16 kept"), std::string::npos) << again.err;

    // One shard, then the other shard resumed into the same file: refused
    // (issue 28), the file as it was; shards are joined by merge.
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o halves.h5 --shard 0/2 --quiet").status, 0);
    const std::string half = read_text(dir.file("halves.h5"));
    const Cli second = dynshare(dir, "sweep sweep.yaml -o halves.h5 --shard 1/2 --resume --quiet");
    EXPECT_EQ(second.status, 2);
    EXPECT_NE(second.err.find("shard 0/2"), std::string::npos) << second.err;
    EXPECT_EQ(read_text(dir.file("halves.h5")), half);
}

TEST(SweepCli, ShardsMergedEqualTheFullSweep) {
    TempDir dir;
    make_sweep(dir);
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o full.h5 --quiet").status, 0);
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o s" + std::to_string(i) + ".h5 --shard " + std::to_string(i) +
                                    "/3 --threads 1 --quiet")
                      .status,
                  0);
    ASSERT_EQ(dynshare(dir, "merge merged.h5 s2.h5 s0.h5 s1.h5 --quiet").status, 0);
    const FileData merged = read_file(dir.file("merged.h5"));
    EXPECT_EQ(merged.complete, 1);
    EXPECT_TRUE(merged.same_results(read_file(dir.file("full.h5"))));

    // Two of three shards: incomplete, and --resume finishes it.
    ASSERT_EQ(dynshare(dir, "merge partial.h5 s0.h5 s2.h5 --quiet").status, 0);
    EXPECT_EQ(read_file(dir.file("partial.h5")).complete, 0);
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o partial.h5 --resume --quiet").status, 0);
    EXPECT_TRUE(read_file(dir.file("partial.h5")).same_results(read_file(dir.file("full.h5"))));
}

TEST(SweepCli, BadInputIsRefusedAndWritesNothing) {
    TempDir dir;
    make_sweep(dir);
    // Unknown key / empty grid: from load_sweep, nothing written.
    write_text(dir.file("bad.yaml"), "base: base.yaml\ngrid: {dynamics.alpah: [1, 2]}\n");
    Cli c = dynshare(dir, "sweep bad.yaml -o bad.h5");
    EXPECT_EQ(c.status, 2);
    EXPECT_NE(c.err.find("alpah"), std::string::npos) << c.err;
    EXPECT_FALSE(fs::exists(dir.file("bad.h5")));
    write_text(dir.file("empty.yaml"), "base: base.yaml\ngrid: {dynamics.alpha: []}\n");
    EXPECT_EQ(dynshare(dir, "sweep empty.yaml -o bad.h5").status, 2);
    EXPECT_FALSE(fs::exists(dir.file("bad.h5")));
    // Bad shard specs.
    for (const char* shard : {"3/3", "1", "a/b", "-1/2", "0/0"}) {
        c = dynshare(dir, std::string("sweep sweep.yaml -o bad.h5 --shard ") + shard);
        EXPECT_EQ(c.status, 2) << shard;
        EXPECT_NE(c.err.find("--shard"), std::string::npos) << c.err;
        EXPECT_FALSE(fs::exists(dir.file("bad.h5")));
    }
    // Resume without a file.
    c = dynshare(dir, "sweep sweep.yaml -o missing.h5 --resume");
    EXPECT_EQ(c.status, 2);
    EXPECT_FALSE(fs::exists(dir.file("missing.h5")));

    // Existing output.
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o out.h5 --shard 0/4 --quiet").status, 0);
    const FileData before = read_file(dir.file("out.h5"));
    c = dynshare(dir, "sweep sweep.yaml -o out.h5");
    EXPECT_EQ(c.status, 2);
    EXPECT_NE(c.err.find("exists"), std::string::npos) << c.err;
    EXPECT_EQ(dynshare(dir, "sweep sweep.yaml -o out.h5 --resume --overwrite").status, 2);
    // Resume with a different sweep: refused, the file untouched.
    c = dynshare(dir, "sweep sweep.yaml -o out.h5 --resume --set dynamics.alpha=3");
    EXPECT_EQ(c.status, 2);
    EXPECT_NE(c.err.find("different config"), std::string::npos) << c.err;
    const FileData after = read_file(dir.file("out.h5"));
    EXPECT_TRUE(after.same_results(before));
    EXPECT_EQ(after.runs.size(), 4u);
    // Merge of files from different sweeps: refused naming the file, nothing written.
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o other.h5 --shard 1/4 --set dynamics.alpha=3 --quiet").status, 0);
    c = dynshare(dir, "merge merged.h5 out.h5 other.h5");
    EXPECT_EQ(c.status, 2);
    EXPECT_NE(c.err.find("other.h5"), std::string::npos) << c.err;
    EXPECT_FALSE(fs::exists(dir.file("merged.h5")));
    // --overwrite replaces.
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o out.h5 --overwrite --quiet").status, 0);
    EXPECT_EQ(read_file(dir.file("out.h5")).runs.size(), size_t(kRuns));
}

TEST(SweepCli, InterruptedSweepResumesToTheSameFile) {
    TempDir dir;
    write_text(dir.file("base.yaml"), kBase);
    // Enough work that SIGINT arrives mid-sweep: 24 runs of 2000 presentations (~2 s in all).
    write_text(dir.file("sweep.yaml"),
               "base: base.yaml\nset: {run.presentations: 2000, layer.neurons: 50}\n"
               "grid: {plasticity.gamma: [0.1, 0.01, 0.001]}\ntrials: 8\n");
    const std::string err = dir.file("stderr.txt");
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (chdir(dir.path.c_str()) != 0) _exit(99);
        if (!freopen(err.c_str(), "w", stderr)) _exit(99);
        execl(DYNSHARE_CLI, DYNSHARE_CLI, "sweep", "sweep.yaml", "-o", "cut.h5", "--threads", "2", "--quiet",
              static_cast<char*>(nullptr));
        _exit(98);
    }
    // Wait for the first runs to be written, then interrupt.
    const auto t0 = std::chrono::steady_clock::now();
    int64_t done_before = 0;
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (!fs::exists(dir.file("cut.h5"))) continue;
        // The file is open for writing: just wait a little past the first runs.
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        break;
    }
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    const int rc = WEXITSTATUS(status);
    if (rc == 0) GTEST_SKIP() << "the sweep finished before the interrupt arrived";
    ASSERT_EQ(rc, 130) << read_text(err);
    const FileData cut = read_file(dir.file("cut.h5"));
    EXPECT_EQ(cut.complete, 0);
    done_before = int64_t(cut.runs.size());
    EXPECT_LT(done_before, 24);
    for (const auto& [i, r] : cut.runs) EXPECT_EQ(r.complete, 1);  // only finished runs are written
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o cut.h5 --resume --quiet").status, 0);
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o straight.h5 --quiet").status, 0);
    EXPECT_TRUE(read_file(dir.file("cut.h5")).same_results(read_file(dir.file("straight.h5"))));
}


// Every dataset and attribute value under `a` and `b` that a stacked run writes.
std::map<std::string, std::vector<double>> stack_datasets(hid_t loc) {
    std::map<std::string, std::vector<double>> out;
    std::vector<std::string> paths = {"snr/neg_log_snr", "snr/mean_abs_over_std", "snr/time"};
    for (int l = 0; l < 2; ++l)
        for (const char* p : {"weights_initial", "weights_final"})
            paths.push_back("layers/" + std::to_string(l) + "/" + p);
    for (int l = 0; l < 2; ++l)
        for (const char* p : {"w", "v", "r", "r_inh"})
            paths.push_back("checkpoint/layers/" + std::to_string(l) + "/" + p);
    for (const std::string& p : paths) out[p] = h5::read_doubles(loc, p);
    return out;
}

const char* kStackBase =
    "model: ei_rate\n"
    "dynamics: {integrator: exponential, alpha: 10}\n"
    "plasticity: {lr: 3.0e-4, gamma: 0.01, momentum: 0.9}\n"
    "run: {presentations: 12, record_every: 300, seed: 5, checkpoint_every: 5}\n"
    "stack:\n"
    "  input: {channels: 2, height: 8, width: 8}\n"
    "  layers:\n"
    "    - {channels: 3, kernel: 3, stride: 1, padding: 1, init_mean: 1.0, init_std: 1.0}\n"
    "    - {channels: 3, kernel: 3, stride: 1, padding: 1, init_mean: 1.0, init_std: 1.0}\n"
    "  drive: 1.0\n";

// Stacked configs sweep like single layers: each /runs/<index> holds the
// stacked layout, equal bit for bit to `simulate` with the run's values and
// seed (on 2 threads, where the sweep ran it on one), and shards merge to
// the full sweep.
TEST(SweepCli, StackedRunsEqualSimulateAndShardsMerge) {
    TempDir dir;
    write_text(dir.file("stack.yaml"), kStackBase);
    write_text(dir.file("sweep.yaml"), "base: stack.yaml\ngrid: {dynamics.alpha: [3, 10]}\ntrials: 2\n");
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o full.h5 --threads 2 --quiet").status, 0);
    uint64_t seed = 0;
    std::map<std::string, std::vector<double>> swept;
    {
        h5::Handle f = h5::open_file(dir.file("full.h5"), h5::Mode::read_only);
        ASSERT_EQ(h5::attr_int(f.id(), "complete"), 1);
        h5::Handle g = h5::group(f.id(), "runs/3");
        EXPECT_EQ(h5::attr_string(g.id(), "status"), "complete");
        EXPECT_EQ(h5::attr_int(g.id(), "layers"), 2);
        seed = h5::attr_uint(g.id(), "seed");
        swept = stack_datasets(g.id());
    }
    ASSERT_EQ(dynshare(dir, "simulate stack.yaml -o one.h5 --threads 2 --quiet --set dynamics.alpha=10 --set run.seed=" +
                                std::to_string(seed))
                  .status,
              0);
    h5::Handle one = h5::open_file(dir.file("one.h5"), h5::Mode::read_only);
    const auto alone = stack_datasets(one.id());
    for (const auto& [path, values] : alone) {
        EXPECT_FALSE(values.empty()) << path;
        EXPECT_TRUE(same_bits(values, swept.at(path))) << path;
    }

    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o s0.h5 --shard 0/2 --threads 1 --quiet").status, 0);
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o s1.h5 --shard 1/2 --threads 1 --quiet").status, 0);
    ASSERT_EQ(dynshare(dir, "merge merged.h5 s1.h5 s0.h5 --quiet").status, 0);
    h5::Handle full = h5::open_file(dir.file("full.h5"), h5::Mode::read_only);
    h5::Handle merged = h5::open_file(dir.file("merged.h5"), h5::Mode::read_only);
    EXPECT_EQ(h5::attr_int(merged.id(), "complete"), 1);
    for (int i = 0; i < 4; ++i) {
        const std::string run = "runs/" + std::to_string(i);
        const auto a = stack_datasets(h5::group(full.id(), run).id());
        const auto b = stack_datasets(h5::group(merged.id(), run).id());
        for (const auto& [path, values] : a) EXPECT_TRUE(same_bits(values, b.at(path))) << run << "/" << path;
    }
}

// Sets environment variables for the scope of a test (the CLI inherits them).
struct ScopedEnv {
    std::vector<std::string> names;
    ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
        for (const auto& [k, v] : vars) {
            setenv(k, v, 1);
            names.emplace_back(k);
        }
    }
    ~ScopedEnv() {
        for (const std::string& k : names) unsetenv(k.c_str());
    }
};

// In a SLURM job array, a sweep without --shard runs its task's shard:
// (ID - MIN) / STEP of COUNT. An explicit --shard wins; ids outside the
// array's sequence are refused naming the variable, with nothing written.
TEST(SweepCli, SlurmArrayTaskChoosesTheShard) {
    TempDir dir;
    make_sweep(dir);
    {
        ScopedEnv env{{"SLURM_ARRAY_TASK_ID", "7"},
                      {"SLURM_ARRAY_TASK_MIN", "5"},
                      {"SLURM_ARRAY_TASK_STEP", "2"},
                      {"SLURM_ARRAY_TASK_COUNT", "3"}};
        const Cli c = dynshare(dir, "sweep sweep.yaml -o task.h5 --threads 1");
        ASSERT_EQ(c.status, 0) << c.err;
        EXPECT_NE(c.err.find("shard 1/3 from SLURM_ARRAY_TASK_ID=7"), std::string::npos) << c.err;
        ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o explicit.h5 --shard 2/3 --threads 1 --quiet").status, 0);
    }
    ASSERT_EQ(dynshare(dir, "sweep sweep.yaml -o by_hand.h5 --shard 1/3 --threads 1 --quiet").status, 0);
    EXPECT_TRUE(read_file(dir.file("task.h5")).same_results(read_file(dir.file("by_hand.h5"))));
    {
        h5::Handle f = h5::open_file(dir.file("explicit.h5"), h5::Mode::read_only);
        EXPECT_EQ(h5::attr_string(f.id(), "shard"), "2/3");
    }
    for (const char* id : {"4", "6", "11", "x"}) {
        ScopedEnv env{{"SLURM_ARRAY_TASK_ID", id},
                      {"SLURM_ARRAY_TASK_MIN", "5"},
                      {"SLURM_ARRAY_TASK_STEP", "2"},
                      {"SLURM_ARRAY_TASK_COUNT", "3"}};
        const Cli c = dynshare(dir, "sweep sweep.yaml -o bad.h5");
        EXPECT_EQ(c.status, 2) << id;
        EXPECT_NE(c.err.find("SLURM_ARRAY_TASK_ID"), std::string::npos) << c.err;
        EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << c.err;
        EXPECT_FALSE(fs::exists(dir.file("bad.h5")));
    }
}

}  // namespace
}  // namespace dynshare
