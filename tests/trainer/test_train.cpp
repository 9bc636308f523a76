// SPDX-License-Identifier: BSD-3-Clause
// End to end: config parsing, two iterations writing a valid metrics.h5,
// resume, refusal of foreign checkpoints, exit statuses of train_main.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <sys/wait.h>

#include <cstdio>

#include "dynshare/errors.hpp"
#include "h5_read.hpp"
#include "layout_check.hpp"
#include "test_helpers.hpp"
#include "trainer/train_command.hpp"
#include "trainer/trainer.hpp"

using namespace dynshare;
using namespace dynshare::trainer;
namespace t = dynshare::trainer::testing;

namespace {

std::string tiny_yaml(const std::string& data_dir) {
    return "network: {arch: small, connectivity: lc, width: 4, depth: 2}\n"
           "data: {dataset: fashion_mnist, path: " + data_dir + ", padding: 2, validation: 16}\n"
           "sharing: {mode: instant, every: 1}\n"
           "train: {epochs: 1, batch_size: 16, lr: 1.0e-2, threads: 1, progress: never}\n";
}

const std::string& data_dir() {
    static const std::string dir = [] {
        auto d = t::temp_dir("train_data");
        t::write_fmnist(d, 64, 32, 12);
        return d;
    }();
    return dir;
}


int run_cli(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return train_main(int(argv.size()), argv.data());
}

}  // namespace

TEST(Config, DefaultsOverridesAndUnknownKeys) {
    auto c = parse_run_config("train: {lr: 0.5}\n", {{"network.arch", "small"}, {"train.lr_decay_epochs", "[3, 6]"}});
    EXPECT_EQ(c.network.arch, Arch::small);
    EXPECT_DOUBLE_EQ(c.train.lr, 0.5);
    EXPECT_EQ(c.train.lr_decay_epochs, (std::vector<int>{3, 6}));
    EXPECT_EQ(c.network.width, 16);
    // The resolved YAML parses back to the same config.
    auto c2 = parse_run_config(to_yaml(c), {});
    EXPECT_EQ(to_yaml(c2), to_yaml(c));
    try {
        parse_run_config("train: {lr: 0.5, lrr: 1}\n", {});
        FAIL();
    } catch (const UserError& e) {
        EXPECT_NE(std::string(e.what()).find("train.lrr"), std::string::npos);
    }
    EXPECT_THROW(parse_run_config("sharing: {mode: magic}\n", {}), UserError);
    EXPECT_THROW(parse_run_config("sharing: {every: 0}\n", {}), UserError);
    EXPECT_THROW(parse_run_config("train: {lr: fast}\n", {}), UserError);
    EXPECT_THROW(parse_run_config("sleep: {dynamics: {integrator: leapfrog}}\n", {}), UserError);
    EXPECT_THROW(parse_run_config("network: {lc_algorithm: fast}\n", {}), UserError);
    EXPECT_THROW(parse_run_config("network: {lc_algorithm: cache_kernel}\ntrain: {device: cuda}\n", {}), UserError);
    EXPECT_EQ(parse_run_config("network: {lc_algorithm: naive}\n", {}).network.lc_algorithm, LcAlgorithm::naive);
}

// sleep.* goes through the simulator's own schema and validation: every
// simulator key of dynamics/plasticity/input works, the defaults are the
// trainer's (default_sleep_config), and errors name the key; the keys the
// trainer derives from the network (model, run, stack geometry) are refused.
TEST(Config, SleepSectionUsesTheSimulatorSchema) {
    auto message = [](const std::string& yaml) {
        try {
            parse_run_config(yaml, {});
        } catch (const UserError& e) {
            return std::string(e.what());
        }
        return std::string("<no UserError>");
    };
    const RunConfig d = parse_run_config("", {});
    EXPECT_EQ(d.sleep.dynamics.integrator, Integrator::exponential);
    EXPECT_EQ(d.sleep.plasticity.lr_scaling, LrScaling::fan_in);
    EXPECT_EQ(d.sleep.stack.border, BorderInput::periodic);
    const auto sleep_part = [](const std::string& y) { return y.substr(y.find("\nsleep:")); };
    EXPECT_EQ(sleep_part(to_yaml(d)), sleep_part(to_yaml(RunConfig{})));  // struct defaults == parsed defaults
    const RunConfig c = parse_run_config(
        "sleep: {dynamics: {abs_tol: 1.0e-6}, plasticity: {lr_scaling: none, tau_w: 0.5}, stack: {drive: 0.5, border: zero}}\n",
        {{"sleep.dynamics.alpha", "50"}});
    EXPECT_DOUBLE_EQ(c.sleep.dynamics.abs_tol, 1e-6);
    EXPECT_DOUBLE_EQ(c.sleep.dynamics.alpha, 50);
    EXPECT_EQ(c.sleep.plasticity.lr_scaling, LrScaling::none);
    EXPECT_DOUBLE_EQ(c.sleep.plasticity.tau_w, 0.5);
    EXPECT_DOUBLE_EQ(c.sleep.stack.drive, 0.5);
    EXPECT_EQ(c.sleep.stack.border, BorderInput::zero);
    EXPECT_EQ(to_yaml(parse_run_config(to_yaml(c), {})), to_yaml(c));
    // Euler's stability rule of the simulator applies here too.
    EXPECT_NE(message("sleep: {dynamics: {integrator: euler, alpha: 100}}\n").find("dynamics.dt"), std::string::npos);
    EXPECT_NE(message("sleep: {plasticity: {lr_scaling: always}}\n").find("lr_scaling"), std::string::npos);
    EXPECT_NE(message("sleep: {run: {presentations: 5}}\n").find("unknown key 'sleep.run'"), std::string::npos);
    EXPECT_NE(message("sleep: {stack: {layers: []}}\n").find("sleep.stack.layers"), std::string::npos);
    EXPECT_NE(message("sleep: {stack: {drive: -1}}\n").find("sleep.stack.drive"), std::string::npos);
    EXPECT_NE(message("train: {eval_every: 0}\n").find("train.eval_every"), std::string::npos);
}

TEST(Train, TwoIterationsWriteValidHdf5) {
    const auto run = t::temp_dir("run_two");
    auto cfg = parse_run_config(tiny_yaml(data_dir()), {{"train.max_iterations", "2"}});
    const auto state = run_training(cfg, RunOptions{run, false, true});
    EXPECT_EQ(state.iteration, 2);
    const std::string h5 = run + "/metrics.h5";
    std::vector<hsize_t> dims;
    auto loss = t::read_h5(h5, "/epochs/train_loss");
    ASSERT_EQ(loss.size(), 1u);
    EXPECT_TRUE(std::isfinite(loss[0]));
    for (const char* name : {"/epochs/test_top1", "/epochs/test_top5", "/epochs/val_top1"}) {
        auto v = t::read_h5(h5, name);
        ASSERT_EQ(v.size(), 1u);
        EXPECT_GE(v[0], 0.0);
        EXPECT_LE(v[0], 1.0);
    }
    t::read_h5(h5, "/epochs/snr", &dims);
    EXPECT_EQ(dims, (std::vector<hsize_t>{1, 2}));  // one epoch, two LC layers
    auto secs = t::read_h5(h5, "/sleep/seconds");
    EXPECT_EQ(secs.size(), 2u);  // instant sharing after each of the two iterations
    t::read_h5(h5, "/sleep/snr_after", &dims);
    EXPECT_EQ(dims, (std::vector<hsize_t>{2, 2}));
    hid_t f = H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    EXPECT_GT(H5Aexists(f, "config"), 0);
    H5Fclose(f);
    EXPECT_TRUE(std::filesystem::exists(run + "/checkpoint.pt"));
}

// train.eval_every 2 over 3 epochs: evaluated after epochs 2 and 3 (the
// last one always), NaN after epoch 1.
TEST(Train, EvalEverySkipsEvaluationsButNotTheLastEpoch) {
    const auto run = t::temp_dir("run_eval_every");
    auto cfg = parse_run_config(tiny_yaml(data_dir()), {{"train.epochs", "3"}, {"train.eval_every", "2"}});
    run_training(cfg, RunOptions{run, false, true});
    for (const char* name : {"/epochs/test_top1", "/epochs/val_top1"}) {
        const auto v = t::read_h5(run + "/metrics.h5", name);
        ASSERT_EQ(v.size(), 3u) << name;
        EXPECT_TRUE(std::isnan(v[0])) << name;
        EXPECT_TRUE(std::isfinite(v[1]) && std::isfinite(v[2])) << name;
    }
}

TEST(Train, ResumeContinuesWhereTheCheckpointStopped) {
    auto cfg = parse_run_config(tiny_yaml(data_dir()), {{"train.epochs", "2"}});
    const auto straight = run_training(cfg, RunOptions{t::temp_dir("run_straight"), false, true});
    const auto run = t::temp_dir("run_resumed");
    auto first = parse_run_config(tiny_yaml(data_dir()), {{"train.epochs", "1"}});
    run_training(first, RunOptions{run, false, true});
    const auto resumed = run_training(cfg, RunOptions{run, true, false});
    EXPECT_EQ(resumed.epochs_done, 2);
    EXPECT_EQ(resumed.iteration, straight.iteration);
    EXPECT_EQ(resumed.metrics.sleep_seconds.size(), straight.metrics.sleep_seconds.size());
    // Same data order, crops and arithmetic (one thread): the same numbers.
    ASSERT_EQ(resumed.metrics.train_loss.size(), 2u);
    EXPECT_NEAR(resumed.metrics.train_loss[1], straight.metrics.train_loss[1], 1e-5);
    EXPECT_NEAR(resumed.metrics.test_top1[1], straight.metrics.test_top1[1], 1e-9);
    EXPECT_EQ(t::read_h5(run + "/metrics.h5", "/epochs/train_loss").size(), 2u);
}

// A signal inside an epoch (simulated by stop_at_iteration, which takes the
// signal's path) writes a checkpoint of that point; --resume continues it to
// the same numbers as a straight run: the rest of the epoch's batches, its
// crops (the augmentation generator's state is in the checkpoint) and sums.
TEST(Train, InterruptedInsideAnEpochResumesToTheSameRun) {
    auto cfg = parse_run_config(tiny_yaml(data_dir()), {{"train.epochs", "2"}});
    const auto straight = run_training(cfg, RunOptions{t::temp_dir("run_straight_sig"), false, true});
    ASSERT_GT(straight.iteration, 3);
    const auto run = t::temp_dir("run_signalled");
    RunOptions stop{run, false, true};
    stop.stop_at_iteration = straight.iteration / 2 + 1;  // inside an epoch
    const auto part = run_training(cfg, stop);
    EXPECT_TRUE(part.interrupted);
    EXPECT_EQ(part.iteration, stop.stop_at_iteration);
    EXPECT_GT(part.epoch_batches, 0);
    const auto resumed = run_training(cfg, RunOptions{run, true, false});
    EXPECT_FALSE(resumed.interrupted);
    EXPECT_EQ(resumed.epochs_done, 2);
    EXPECT_EQ(resumed.iteration, straight.iteration);
    ASSERT_EQ(resumed.metrics.train_loss.size(), 2u);
    EXPECT_EQ(resumed.metrics.train_loss, straight.metrics.train_loss);
    EXPECT_EQ(resumed.metrics.test_top1, straight.metrics.test_top1);
}

TEST(Train, RefusesCheckpointOfAnotherArchitecture) {
    const auto run = t::temp_dir("run_arch");
    auto cfg = parse_run_config(tiny_yaml(data_dir()), {{"train.max_iterations", "1"}});
    run_training(cfg, RunOptions{run, false, true});
    auto other = parse_run_config(tiny_yaml(data_dir()), {{"network.width", "8"}});
    try {
        run_training(other, RunOptions{run, true, false});
        FAIL();
    } catch (const UserError& e) {
        EXPECT_NE(std::string(e.what()).find("different architecture"), std::string::npos) << e.what();
    }
    EXPECT_THROW(run_training(cfg, RunOptions{run, false, false}), UserError);  // run exists, no --overwrite
}

TEST(Train, CommandExitStatuses) {
    const auto dir = t::temp_dir("cli");
    const std::string config = dir + "/c.yaml";
    std::ofstream(config) << tiny_yaml(data_dir());
    const std::string out = dir + "/run";
    EXPECT_EQ(run_cli({"train", "--help"}), 0);
    EXPECT_EQ(run_cli({"train", config}), 2);  // no -o
    EXPECT_EQ(run_cli({"train", config, "-o", out, "--set", "sharing.mode=magic"}), 2);
    EXPECT_EQ(run_cli({"train", config, "-o", out, "--set", "sharing.every=0"}), 2);
    EXPECT_EQ(run_cli({"train", config, "-o", out, "--set", "bogus.key=1"}), 2);
    EXPECT_EQ(run_cli({"train", config, "-o", out, "--set", "data.canvas=5"}), 2);  // canvas < image
    EXPECT_EQ(run_cli({"train", config, "-o", out, "--set", "data.path=/nonexistent"}), 2);
    // A fan-in rule above the stated cap on this network (fan-ins 9 and 36:
    // 36 x 5000 = 180,000 presentations per phase) is refused before training,
    // and no RUN_DIR is left behind.
    EXPECT_EQ(run_cli({"train", config, "-o", out, "--set", "sharing.mode=simulated", "--set",
                       "sharing.presentations_per_fan_in=5000"}), 2);
    EXPECT_FALSE(std::filesystem::exists(out));
    if (!torch::cuda::is_available()) {
        EXPECT_EQ(run_cli({"train", config, "-o", out, "--device", "cuda"}), 2);
    }
    EXPECT_EQ(run_cli({"train", config, "-o", out, "--set", "train.max_iterations=1"}), 0);
}

// ---- the program: dynshare train -> dynshare-train, errors, no RUN_DIR left --

namespace {

struct Cli {
    int status = -1;
    std::string out;  // stdout and stderr
};

Cli dynshare_cli(const std::string& args) {
    Cli r;
    FILE* p = popen((std::string(DYNSHARE_CLI) + " " + args + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) r.out += buf;
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

int count_lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST(TrainProgram, DispatchRunsDynshareTrain) {
    const Cli help = dynshare_cli("train --help");
    EXPECT_EQ(help.status, 0) << help.out;
    EXPECT_NE(help.out.find("usage: dynshare train CONFIG"), std::string::npos) << help.out;
}

// Each refusal: exit 2, one line "dynshare train: error: ..." naming the
// culprit, and no RUN_DIR (nor anything else) created.
TEST(TrainProgram, BadInputIsOneLineExit2AndLeavesNoRunDir) {
    const auto dir = t::temp_dir("bad_input");
    const std::string config = dir + "/c.yaml";
    std::ofstream(config) << tiny_yaml(data_dir());
    std::ofstream(dir + "/empty.yaml") << "# nothing but a comment\n";
    std::filesystem::create_directories(dir + "/folder.yaml");
    const std::string run = dir + "/run";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"train " + dir + "/folder.yaml -o " + run, "folder.yaml"},
        {"train " + dir + "/empty.yaml -o " + run, "empty.yaml' is empty"},
        {"train " + dir + "/missing.yaml -o " + run, "missing.yaml"},
        {"train " + config + " -o " + run + " --set data.path=/nonexistent", "/nonexistent"},
        {"train " + config + " -o " + run + " --set data.canvas=5", "data.canvas"},
        {"train " + config + " -o " + run + " --set data.validation=64", "data.validation"},
        {"train " + config + " -o " + run + " --set sharing.mode=magic", "sharing.mode"},
        {"train " + config + " -o " + run + " --set train.lrr=1", "unknown key 'train.lrr'"},
        {"train " + config + " -o " + run + " --set train.epochs=0", "train.epochs"},
        {"train " + config + " -o " + run + " --bogus", "--bogus"},
        {"train " + config + " -o " + run + " --resume", "checkpoint.pt"},
        {"train " + config + " -o " + run + " --resume --overwrite", "--resume"},
        {"train " + config, "-o RUN_DIR"},
        {"train " + config + " " + config + " -o " + run, "exactly one CONFIG"},
    };
    for (const auto& [args, needle] : cases) {
        const Cli r = dynshare_cli(args);
        EXPECT_EQ(r.status, 2) << args << "\n" << r.out;
        EXPECT_EQ(count_lines(r.out), 1) << args << "\n" << r.out;
        EXPECT_EQ(r.out.rfind("dynshare train: error: ", 0), 0u) << args << "\n" << r.out;
        EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
        EXPECT_FALSE(std::filesystem::exists(run)) << args << " left " << run;
    }
}

TEST(TrainProgram, MetricsFileMatchesTheLayoutList) {
    const auto run = t::temp_dir("layout");
    auto cfg = parse_run_config(tiny_yaml(data_dir()), {{"train.max_iterations", "2"}});
    run_training(cfg, RunOptions{run, false, true});
    std::set<std::string> keys;
    for (const auto& [k, v] : config_scalars(cfg)) keys.insert(k);
    EXPECT_TRUE(keys.count("train.lr") && keys.count("sleep.dynamics.alpha") && keys.count("sharing.mode"));
    const auto problems = dynshare::layout::compare(run + "/metrics.h5", std::string(DYNSHARE_SOURCE_DIR) + "/docs/hdf5_layout.txt",
                                                    "training", keys);
    EXPECT_TRUE(problems.empty()) << dynshare::layout::join_lines(problems);
    // Strings are variable-length UTF-8, as in run files.
    hid_t f = H5Fopen((run + "/metrics.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "config", H5P_DEFAULT);
    hid_t type = H5Aget_type(a);
    EXPECT_GT(H5Tis_variable_str(type), 0);
    EXPECT_EQ(H5Tget_cset(type), H5T_CSET_UTF8);
    H5Tclose(type);
    H5Aclose(a);
    H5Fclose(f);
}
