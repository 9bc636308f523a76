// dynshare bench --sleep: blocked presentations (dynamics.block) against the
// per-presentation path (block 1), in one invocation, with 2 threads: the
// ResNet-20 sleep phase (experiments/resnet20_stack.yaml) at 100 and 1000
// presentations and one Fig. 4B curve (k = 9). Each case runs in its own
// child process (fork, before any thread exists), so its peak resident memory
// (wait4's ru_maxrss) is its own; the engine runs with no output file. Also
// measures this machine's GEMM flop rate on the block algorithm's shapes and
// counts the block algorithm's flops. Writes a Markdown report.
#include <omp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "dynshare/config.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/plan.hpp"
#include "io/config_yaml.hpp"
#include "io/output_file.hpp"

namespace dynshare::cli {

namespace {

const char* kSleepHelp =
    "usage: dynshare bench --sleep [-o REPORT.md] [--overwrite] [--threads T] [--block B]\n"
    "                      [--presentations 100,1000] [--fig4b-presentations Q] [--config YAML]\n"
    "\n"
    "Times blocked presentations (dynamics.block = B, default: the built-in default)\n"
    "against block 1, each case in a child process with T threads (default 2), with its\n"
    "peak memory: the ResNet-20 sleep phase (--config, default experiments/resnet20_stack.yaml)\n"
    "at each of --presentations, and one Fig. 4B curve (k = 9, Q presentations, default 10000).\n"
    "Also measures the GEMM flop rate on the block algorithm's shapes and reports the\n"
    "block algorithm's flop count.\n";

struct Outcome {
    double seconds = -1.0;
    double peak_mib = 0.0;
    int status = -1;
};

// As the trainer's sleep phase observes a run (run_sleep_phase): records at
// the start and end only, no state copies besides the final weights.
struct PhaseLikeObserver : RunObserver {
    void on_record(int64_t, double, const std::vector<double>&, const std::vector<double>&) override {}
    bool wants_states() const override { return false; }
};

// Runs cfg in a child process; its wall time (the engine run on weights
// drawn before the clock starts, as the trainer hands its weights over) and
// peak RSS.
Outcome run_child(const SimConfig& cfg, int threads) {
    int fd[2];
    if (pipe(fd) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        close(fd[0]);
        omp_set_num_threads(threads);
        PhaseLikeObserver obs;
        double secs = -1.0;
        try {
            const RunPlan plan = make_plan(cfg);
            const std::vector<std::vector<double>> weights = initial_weights(cfg, plan);
            const auto t0 = std::chrono::steady_clock::now();
            const RunResult r = run_engine(cfg, plan, weights, obs, nullptr);
            secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (r.status != RunStatus::complete) secs = -2.0;
        } catch (...) {
            secs = -3.0;
        }
        const ssize_t w = write(fd[1], &secs, sizeof secs);
        _exit(w == sizeof secs ? 0 : 1);
    }
    close(fd[1]);
    Outcome o;
    double secs = -1.0;
    if (read(fd[0], &secs, sizeof secs) == sizeof secs) o.seconds = secs;
    close(fd[0]);
    int status = 0;
    struct rusage ru {};
    wait4(pid, &status, 0, &ru);
    o.status = status;
    o.peak_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;  // kB on Linux
    return o;
}

// Flops of the block algorithm's matrix products for cfg (per run): per block
// of nb presentations and layer, W X, W0 X (and V X with momentum) and the
// update C X^T (and its momentum twin), 2 n k nb each, plus one Gram matrix
// per input group (ignored here: < 1 %).
double block_flops(const SimConfig& cfg) {
    const RunPlan plan = make_plan(cfg);
    const bool momentum = cfg.effective_form() == PlasticityForm::discrete;
    double per_presentation = 0.0;
    for (const LayerPlan& pl : plan.layers)
        per_presentation += (momentum ? 5.0 : 3.0) * 2.0 * static_cast<double>(pl.neurons) * pl.fan_in;
    return per_presentation * static_cast<double>(cfg.run.presentations);
}

// GEMM flop rate with `threads` threads, each running its own chunks of the
// block algorithm's shapes (256 rows x k inputs x nb presentations), single-threaded
// Eigen kernels as in core/block.cpp.
double gemm_rate(int threads, int64_t k, int64_t nb, bool update) {
    const int64_t rows = 256, chunks = 64;
    double best = 0.0;
    for (int rep = 0; rep < 3; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
        {
            Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> W =
                Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>::Ones(rows, k);
            Eigen::MatrixXd X = Eigen::MatrixXd::Ones(k, nb);
            Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> O(rows, nb), C =
                Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>::Ones(rows, nb);
#pragma omp for schedule(static)
            for (int64_t c = 0; c < chunks * threads; ++c) {
                if (update) W.noalias() = C * X.transpose();
                else O.noalias() = W * X;
            }
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, 2.0 * rows * k * nb * chunks * threads / s);
    }
    return best;
}

std::string fmt(double v, int prec = 2) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

}  // namespace

int bench_sleep(int argc, char** argv) {
    const Args args = parse_args(argc, argv, 2,
                                 {{"--sleep", false, false},
                                  {"-o", true, false},
                                  {"--threads", true, false},
                                  {"--block", true, false},
                                  {"--presentations", true, false},
                                  {"--fig4b-presentations", true, false},
                                  {"--config", true, false},
                                  {"--overwrite", false, false},
                                  {"--help", false, false},
                                  {"-h", false, false}},
                                 "bench");
    if (args.has("--help") || args.has("-h")) {
        std::fputs(kSleepHelp, stdout);
        return 0;
    }
    const std::string report = args.get("-o", "bench_sleep_report.md");
    check_output(report, args.has("--overwrite"));
    const int threads = parse_int(args.get("--threads", "2"), "--threads");
    if (threads < 1) throw UserError("--threads: must be >= 1");
    const int64_t block = parse_int(args.get("--block", std::to_string(DynamicsParams{}.block)), "--block");
    if (block < 1) throw UserError("--block: must be >= 1");
    std::vector<int64_t> counts;
    {
        std::stringstream ss(args.get("--presentations", "100,1000"));
        std::string item;
        while (std::getline(ss, item, ',')) {
            const int64_t v = parse_int(item, "--presentations");
            if (v < 1) throw UserError("--presentations: " + item + " is not >= 1");
            counts.push_back(v);
        }
    }
    const int64_t q4b = parse_int(args.get("--fig4b-presentations", "10000"), "--fig4b-presentations");
    if (q4b < 1) throw UserError("--fig4b-presentations: must be >= 1");
    const std::string config =
        args.get("--config", std::string(DYNSHARE_SOURCE_DIR) + "/experiments/resnet20_stack.yaml");
    const SimConfig resnet = load_config(config, {});

    std::ostringstream md;
    md << "# Blocked presentations: benchmark\n\n"
       << "`dynshare bench --sleep --threads " << threads << " --block " << block << "`; each case in its own "
       << "process (engine time on weights drawn before the clock starts, no output file; the sleep phase "
       << "run as the trainer runs it: records at its start and end only, no state copies but the final "
       << "weights; peak = the process's maximum resident set).\n\n"
       << "| case | presentations | block | seconds | speed-up | peak MiB | GEMM flops | GFLOP/s of the block GEMMs |\n"
       << "|---|---:|---:|---:|---:|---:|---:|---:|\n";
    auto row = [&](const std::string& name, SimConfig cfg, int64_t presentations, bool as_sleep_phase) {
        cfg.run.presentations = presentations;
        if (as_sleep_phase) {  // as run_sleep_phase runs it: records at the start and end only, no checkpoints
            cfg.run.record_every = std::numeric_limits<int64_t>::max() / 2;
            cfg.run.checkpoint_every = std::numeric_limits<int64_t>::max() / 2;
        }
        double base = 0.0;
        for (int64_t b : {int64_t(1), block}) {
            cfg.dynamics.block = b;
            validate(cfg);
            std::fprintf(stderr, "bench --sleep: %s, %lld presentations, block %lld ...\n", name.c_str(),
                         static_cast<long long>(presentations), static_cast<long long>(b));
            const Outcome o = run_child(cfg, threads);
            if (o.seconds < 0) throw std::runtime_error("bench --sleep: the run of " + name + " failed");
            if (b == 1) base = o.seconds;
            const double flops = block_flops(cfg);
            md << "| " << name << " | " << presentations << " | " << b << " | " << fmt(o.seconds) << " | "
               << (b == 1 ? std::string("1") : fmt(base / o.seconds)) << " | " << fmt(o.peak_mib, 0) << " | "
               << fmt(flops / 1e9, 1) << " G | " << (b == 1 ? std::string("-") : fmt(flops / o.seconds / 1e9, 1))
               << " |\n";
        }
    };
    for (int64_t c : counts) row("ResNet-20 sleep phase", resnet, c, true);
    SimConfig fig4b;  // the built-in default: one Fig. 4B curve, k = 9
    row("Fig. 4B curve (k = 9)", fig4b, q4b, false);

    md << "\nGEMM flop rate of this machine, " << threads
       << " threads, single-threaded Eigen kernels on 256-row chunks as in src/core/block.cpp "
          "(drives: (256 x k) (k x P); update: (256 x P) (P x k)):\n\n"
       << "| k | P | drives GFLOP/s | update GFLOP/s |\n|---:|---:|---:|---:|\n";
    for (int64_t k : {int64_t(144), int64_t(576)})
        md << "| " << k << " | " << block << " | " << fmt(gemm_rate(threads, k, block, false) / 1e9, 1) << " | "
           << fmt(gemm_rate(threads, k, block, true) / 1e9, 1) << " |\n";
    md << "\nGEMM flops: the block algorithm's matrix products for the whole run (W X, W0 X, C X^T per "
          "presentation and layer, plus V X and the momentum update with discrete plasticity; the Gram "
          "matrices are < 1 %). The Fig. 4B curve records every presentation, so its blocks are of one "
          "presentation (the per-presentation path) whatever dynamics.block is.\n";

    PendingOutput pending(report, args.has("--overwrite"));
    {
        std::ofstream f(pending.write_path());
        f << md.str();
        f.close();
        if (!f) throw UserError("-o " + report + ": writing the report failed");
    }
    pending.commit();
    std::fputs(md.str().c_str(), stdout);
    std::fprintf(stderr, "bench: report written to %s\n", report.c_str());
    return 0;
}

}  // namespace dynshare::cli
