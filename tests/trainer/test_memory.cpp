// SPDX-License-Identifier: BSD-3-Clause
// The training memory estimate (src/trainer/memory_estimate.cpp):
//  - the network census counts exactly what build_network allocates;
//  - the estimate against the peak resident memory of real runs of
//    dynshare-train, measured by the kernel (wait4's ru_maxrss), for runs
//    where the weights, the activations, the patches of patches_bmm, the
//    data or the sleep phase dominate;
//  - a run that needs more than the machine has is refused before anything
//    is created (exit 2, one line naming the key and the bytes).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_helpers.hpp"
#include "trainer/datasets.hpp"
#include "trainer/memory_estimate.hpp"
#include "trainer/networks.hpp"
#include "trainer/train_config.hpp"

using namespace dynshare;
using namespace dynshare::trainer;
namespace t = dynshare::trainer::testing;
namespace fs = std::filesystem;

namespace {

using t::kTrain;
using t::slurp;

// Runs dynshare-train with `args` (output to `log`); returns the exit status
// and the child's peak resident memory in bytes.
std::pair<int, double> run_measured(const std::vector<std::string>& args, const std::string& log) {
    std::fflush(stdout);  // or the child repeats what is buffered
    const pid_t pid = fork();
    if (pid == 0) {
        std::freopen(log.c_str(), "w", stdout);
        std::freopen(log.c_str(), "a", stderr);
        std::vector<char*> argv{const_cast<char*>(kTrain)};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(kTrain, argv.data());
        _exit(127);
    }
    int status = 0;
    struct rusage ru {};
    wait4(pid, &status, 0, &ru);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, double(ru.ru_maxrss) * 1024.0};
}

int64_t numel(const Net& net, bool lc_only) {
    int64_t n = 0;
    if (lc_only) {
        for (const auto& l : net->lc_layers()) n += l.layer->weight.numel();
        return n;
    }
    for (const auto& p : net->parameters()) n += p.numel();
    return n;
}

}  // namespace

// The census runs the builder's own code with stand-in layers: its counts
// equal the built network's, for every architecture and connectivity option.
TEST(Memory, CensusCountsWhatTheBuilderAllocates) {
    struct Case {
        std::string yaml;
        InputShape in;
    };
    const std::vector<Case> cases = {
        {"{arch: resnet20, connectivity: lc, width: 8}", {3, 32, 32, 10}},
        {"{arch: resnet20, connectivity: conv, width: 8, batch_norm: false}", {3, 32, 32, 100}},
        {"{arch: resnet20, connectivity: lc, width: 4, conv_1x1: true, first_conv_layers: 3}", {3, 32, 32, 10}},
        {"{arch: resnet18, connectivity: lc, width: 4}", {3, 64, 64, 10}},
        {"{arch: small, connectivity: lc, width: 6, depth: 5, kernel: 5, batch_norm: false}", {1, 28, 28, 10}},
    };
    for (const auto& c : cases) {
        const RunConfig cfg = parse_run_config("network: " + c.yaml + "\n", {});
        const Net net = build_network(cfg.network, c.in);
        const NetworkCensus census = census_network(cfg.network, c.in);
        EXPECT_EQ(census.parameters, numel(net, false)) << c.yaml;
        EXPECT_EQ(census.lc_weights, numel(net, true)) << c.yaml;
        std::vector<LcGeometry> main_path;
        for (const auto& l : net->lc_layers())
            if (l.main_path) main_path.push_back(l.layer->geometry());
        ASSERT_EQ(census.main_lc.size(), main_path.size()) << c.yaml;
        for (size_t i = 0; i < main_path.size(); ++i) {
            EXPECT_EQ(census.main_lc[i].c_in, main_path[i].c_in) << c.yaml;
            EXPECT_EQ(census.main_lc[i].h_out(), main_path[i].h_out()) << c.yaml;
            EXPECT_EQ(census.main_lc[i].c_out, main_path[i].c_out) << c.yaml;
        }
        // Activations: one forward pass, every spatial layer's output counted.
        EXPECT_GT(census.activations, 0) << c.yaml;
    }
}

// The estimate against the peak resident memory of real runs.
TEST(Memory, EstimateFollowsTheMeasuredPeak) {
    const auto dir = t::temp_dir("memory");
    fs::create_directories(dir + "/data");
    t::write_fmnist(dir + "/data", 2000, 50, 28);
    struct Case {
        std::string what, network;
        int batch;
        std::string sharing;
    };
    // One iteration each (and an evaluation of the 50 test images); the
    // batch is small where the weights should dominate, large where the
    // activations should.
    const std::vector<Case> cases = {
        {"weights", "{arch: small, connectivity: lc, width: 96, depth: 3}", 8, "{mode: none}"},
        {"activations", "{arch: small, connectivity: lc, width: 48, depth: 1}", 1024, "{mode: none}"},
        {"patches_bmm", "{arch: small, connectivity: lc, width: 32, depth: 3, lc_algorithm: patches_bmm}", 256, "{mode: none}"},
        {"sleep", "{arch: small, connectivity: lc, width: 48, depth: 3}", 16, "{mode: simulated, every: 1, presentations: 2}"},
        {"hebbian", "{arch: small, connectivity: lc, width: 48, depth: 3}", 16, "{mode: hebbian, every: 1, presentations: 2}"},
        {"resnet20", "{arch: resnet20, connectivity: lc, width: 16}", 64, "{mode: instant, every: 1}"},
    };
    for (const auto& c : cases) {
        std::ofstream(dir + "/c.yaml") << "network: " << c.network << "\ndata: {dataset: fashion_mnist, path: " << dir
                                       << "/data, padding: 2, validation: 0}\nsharing: " << c.sharing
                                       << "\ntrain: {epochs: 1, batch_size: " << c.batch
                                       << ", threads: 1, progress: never, max_iterations: 1, eval_batch_size: 50}\n";
        const RunConfig cfg = load_run_config(dir + "/c.yaml", {});
        const TrainMemory est = estimate_train_memory(cfg, check_data(cfg.data));
        fs::remove_all(dir + "/run");
        const auto [rc, peak] = run_measured({dir + "/c.yaml", "-o", dir + "/run"}, dir + "/log");
        ASSERT_EQ(rc, 0) << c.what << "\n" << slurp(dir + "/log");
        const double ratio = double(est.total()) / peak;
        std::printf("%-12s estimate %7.1f MB (data %.0f, model %.0f, activations %.0f, sleep %.0f)  measured peak %7.1f MB  ratio %.2f\n",
                    c.what.c_str(), double(est.total()) / 1e6, double(est.data_held) / 1e6, double(est.model) / 1e6,
                    double(est.activations) / 1e6, double(est.sleep) / 1e6, peak / 1e6, ratio);
        EXPECT_GT(ratio, 0.8) << c.what << ": the estimate falls short of the measured peak";
        EXPECT_LT(ratio, 1.5) << c.what << ": the estimate would refuse runs that fit";
    }
}

// More than the machine has: refused before anything is created.
TEST(Memory, ARunLargerThanTheMachineIsRefused) {
    const auto dir = t::temp_dir("memory_refused");
    fs::create_directories(dir + "/data");
    t::write_fmnist(dir + "/data", 100, 20, 28);
    std::ofstream(dir + "/c.yaml") << "network: {arch: small, connectivity: lc, width: 4096, depth: 3}\n"
                                      "data: {dataset: fashion_mnist, path: " + dir + "/data, validation: 0}\n"
                                      "train: {epochs: 1, batch_size: 16, threads: 1, progress: never}\n";
    const auto [rc, peak] = run_measured({dir + "/c.yaml", "-o", dir + "/run"}, dir + "/log");
    const std::string out = slurp(dir + "/log");
    EXPECT_EQ(rc, 2) << out;
    EXPECT_NE(out.find("network.width = 4096"), std::string::npos) << out;
    EXPECT_NE(out.find("bytes available"), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_FALSE(fs::exists(dir + "/run"));
    EXPECT_LT(peak, 1e9) << "refused before allocating";
}
