// SPDX-License-Identifier: BSD-3-Clause
// dynshare bench --sleep: blocked presentations (dynamics.block) against the
// per-presentation path (block 1), in one invocation, with 2 threads: the
// ResNet-20 sleep phase (experiments/resnet20_stack.yaml) at 100 and 1000
// presentations and one Fig. 4B curve (k = 9). Each case runs in its own
// child process (fork, before any thread exists), so its peak resident memory
// (wait4's ru_maxrss) is its own; the engine runs with no output file. Also
// measures this machine's GEMM flop rate on the block algorithm's shapes
// (dynshare's block kernels, core/block_gemm.hpp, beside Eigen's) and counts
// the block algorithm's flops. Writes a Markdown report.
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
#include "core/block_gemm.hpp"
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
    "usage: dynshare bench --sleep [-o REPORT.md] [--overwrite] [--threads T] [--block 20,40]\n"
    "                      [--presentations 100,1000] [--fig4b-presentations Q] [--config YAML]\n"
    "                      [--repeats R]\n"
    "\n"
    "Times blocked presentations (dynamics.block = each B of --block, default 20,40;\n"
    "dynamics.block's own default is 40) against block 1, each case in a child process\n"
    "with T threads (default 2), with its peak memory: the ResNet-20 sleep phase (--config,\n"
    "default experiments/resnet20_stack.yaml) at each of --presentations, and one Fig. 4B\n"
    "curve (k = 9, Q presentations, default 10000).\n"
    "Each case runs R times (default 1; at least 7 where every block's first run took\n"
    "under a second), the cases in turn, and the best time counts.\n"
    "Also measures the GEMM flop rate on the block algorithm's shapes (dynshare's block\n"
    "kernels and Eigen's) and reports the block algorithm's flop count.\n";

constexpr int kShortRepeats = 7;

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
// block algorithm's shapes (256 rows x k inputs x nb presentations): best of
// 3, in flop/s. `make()` runs once per thread and returns that thread's
// per-chunk call, with operands of its own.
constexpr int64_t kRateRows = 256;
template <class Make>
double chunk_rate(int threads, int64_t k, int64_t nb, Make make) {
    const int64_t chunks = 64;
    double best = 0.0;
    for (int rep = 0; rep < 3; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
        {
            auto run_chunk = make();
#pragma omp for schedule(static)
            for (int64_t c = 0; c < chunks * threads; ++c) run_chunk();
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, 2.0 * kRateRows * k * nb * chunks * threads / s);
    }
    return best;
}

// The block kernels in use (core/block_gemm.hpp) as core/block.cpp calls
// them: A by row pointers, the drives over whole vectors of presentations.
double kernel_rate(int threads, int64_t k, int64_t nb, bool update) {
    const BlockGemm<double> g = block_gemm<double>(block_isa());
    const int64_t rows = kRateRows, nd = (nb + g.lanes - 1) / g.lanes * g.lanes;
    return chunk_rate(threads, k, nb, [&] {
        std::vector<double> W(static_cast<size_t>(rows * k), 1.0), X(static_cast<size_t>(k * nd), 1.0),
            O(static_cast<size_t>(rows * nd)), C(static_cast<size_t>(rows * nb), 1.0);
        std::vector<const double*> wrow(rows), crow(rows);
        for (int64_t r = 0; r < rows; ++r) {
            wrow[r] = &W[r * k];
            crow[r] = &C[r * nb];
        }
        // The vectors move into the call; their buffers (and the row pointers) stay.
        return [=, &g, W = std::move(W), X = std::move(X), O = std::move(O), C = std::move(C),
                wrow = std::move(wrow), crow = std::move(crow)]() mutable {
            if (update) g.update(rows, k, nb, crow.data(), X.data(), k, W.data(), k, false);
            else g.drives(rows, nd, k, wrow.data(), X.data(), nd, O.data(), nd, false);
        };
    });
}

// The same with Eigen's kernels (as core/block.cpp called them before its own
// kernels): the comparison that chose them.
double gemm_rate(int threads, int64_t k, int64_t nb, bool update) {
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    return chunk_rate(threads, k, nb, [&] {
        return [update, W = RowMajor(RowMajor::Ones(kRateRows, k)), X = Eigen::MatrixXd(Eigen::MatrixXd::Ones(k, nb)),
                O = RowMajor(kRateRows, nb), C = RowMajor(RowMajor::Ones(kRateRows, nb))]() mutable {
            if (update) W.noalias() = C * X.transpose();
            else O.noalias() = W * X;
        };
    });
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
                                  {"--repeats", true, false},
                                  {"--presentations", true, false},
                                  {"--fig4b-presentations", true, false},
                                  {"--config", true, false},
                                  {"--overwrite", false, false},
                                  {"--help", false, false},
                                  {"-h", false, false}},
                                 "bench");
    if (args.has("--help") || args.has("-h")) {
        std::fputs(kSleepHelp, stdout);
        std::fputs("\nDocumentation: docs/guide/bench.md\n", stdout);  // the user guide's page
        return 0;
    }
    const std::string report = args.get("-o", "bench_sleep_report.md");
    check_output(report, args.has("--overwrite"));
    const int threads = parse_int(args.get("--threads", "2"), "--threads");
    if (threads < 1) throw UserError("--threads: must be >= 1");
    auto int_list = [&](const char* key, const char* fallback) {
        std::vector<int64_t> out;
        std::stringstream ss(args.get(key, fallback));
        std::string item;
        while (std::getline(ss, item, ',')) {
            const int64_t v = parse_int(item, key);
            if (v < 1) throw UserError(std::string(key) + ": " + item + " is not >= 1");
            out.push_back(v);
        }
        if (out.empty()) throw UserError(std::string(key) + ": give at least one integer >= 1");
        return out;
    };
    const std::vector<int64_t> blocks = int_list("--block", "20,40");
    const std::vector<int64_t> counts = int_list("--presentations", "100,1000");
    const int repeats = parse_int(args.get("--repeats", "1"), "--repeats");
    if (repeats < 1) throw UserError("--repeats: must be >= 1");
    std::string block_list;
    for (int64_t b : blocks) block_list += (block_list.empty() ? "" : ",") + std::to_string(b);
    const int64_t q4b = parse_int(args.get("--fig4b-presentations", "10000"), "--fig4b-presentations");
    if (q4b < 1) throw UserError("--fig4b-presentations: must be >= 1");
    const std::string config =
        args.get("--config", std::string(DYNSHARE_SOURCE_DIR) + "/experiments/resnet20_stack.yaml");
    const SimConfig resnet = load_config(config, {});

    std::ostringstream md;
    md << "# Blocked presentations: benchmark\n\n"
       << "`dynshare bench --sleep --threads " << threads << " --block " << block_list << " --repeats " << repeats
       << "`; block kernels: " << to_string(block_isa()) << ". Each case in its own "
       << "process (engine time on weights drawn before the clock starts, no output file; the sleep phase "
       << "run as the trainer runs it: records at its start and end only, no state copies but the final "
       << "weights; peak = the process's maximum resident set); best of " << repeats
       << " runs per case (at least " << kShortRepeats
       << " where every block's first run took under a second), the cases in turn.\n\n"
       << "| case | presentations | block | seconds | speed-up | peak MiB | GEMM flops | GFLOP/s of the block GEMMs |\n"
       << "|---|---:|---:|---:|---:|---:|---:|---:|\n";
    auto row = [&](const std::string& name, SimConfig cfg, int64_t presentations, bool as_sleep_phase) {
        cfg.run.presentations = presentations;
        if (as_sleep_phase) {  // as run_sleep_phase runs it: records at the start and end only, no checkpoints
            cfg.run.record_every = std::numeric_limits<int64_t>::max() / 2;
            cfg.run.checkpoint_every = std::numeric_limits<int64_t>::max() / 2;
        }
        std::vector<int64_t> cases{1};
        for (int64_t b : blocks)
            if (b != 1) cases.push_back(b);
        std::vector<Outcome> best(cases.size());
        // Cases under a second (the Fig. 4B curve) jitter by a third between
        // runs on a shared machine, more than any difference between their
        // blocks: they run at least kShortRepeats times.
        int reps = repeats;
        for (int rep = 0; rep < reps; ++rep) {
            for (size_t i = 0; i < cases.size(); ++i) {
                cfg.dynamics.block = cases[i];
                validate(cfg);
                std::fprintf(stderr, "bench --sleep: %s, %lld presentations, block %lld (run %d of %d) ...\n",
                             name.c_str(), static_cast<long long>(presentations), static_cast<long long>(cases[i]),
                             rep + 1, reps);
                const Outcome o = run_child(cfg, threads);
                if (o.seconds < 0) throw std::runtime_error("bench --sleep: the run of " + name + " failed");
                if (best[i].seconds < 0 || o.seconds < best[i].seconds) best[i].seconds = o.seconds;
                best[i].peak_mib = std::max(best[i].peak_mib, o.peak_mib);
            }
            if (rep == 0 && std::all_of(best.begin(), best.end(), [](const Outcome& o) { return o.seconds < 1.0; }))
                reps = std::max(reps, kShortRepeats);
        }
        const double base = best[0].seconds;
        const double flops = block_flops(cfg);
        for (size_t i = 0; i < cases.size(); ++i) {
            const int64_t b = cases[i];
            const Outcome& o = best[i];
            const bool is_default = b == DynamicsParams{}.block;
            md << "| " << name << " | " << presentations << " | " << b << (is_default ? " (default)" : "") << " | "
               << fmt(o.seconds) << " | "
               << (b == 1 ? std::string("1") : fmt(base / o.seconds)) << " | " << fmt(o.peak_mib, 0) << " | "
               << fmt(flops / 1e9, 1) << " G | " << (b == 1 ? std::string("-") : fmt(flops / o.seconds / 1e9, 1))
               << " |\n";
        }
    };
    for (int64_t c : counts) row("ResNet-20 sleep phase", resnet, c, true);
    SimConfig fig4b;  // the built-in default: one Fig. 4B curve, k = 9
    row("Fig. 4B curve (k = 9)", fig4b, q4b, false);

    md << "\nGEMM flop rate of this machine, " << threads
       << " threads, single-threaded kernels on 256-row chunks as in src/core/block.cpp (drives: (256 x k) "
          "(k x P); update: (256 x P) (P x k)): dynshare's block kernels ("
       << to_string(block_isa()) << ", in use) and Eigen's (portable build):\n\n"
       << "| k | P | drives, block kernels | drives, Eigen | update, block kernels | update, Eigen |\n"
       << "|---:|---:|---:|---:|---:|---:|\n";
    for (int64_t b : blocks)
        for (int64_t k : {int64_t(144), int64_t(576)})
            md << "| " << k << " | " << b << " | " << fmt(kernel_rate(threads, k, b, false) / 1e9, 1) << " | "
               << fmt(gemm_rate(threads, k, b, false) / 1e9, 1) << " | " << fmt(kernel_rate(threads, k, b, true) / 1e9, 1)
               << " | " << fmt(gemm_rate(threads, k, b, true) / 1e9, 1) << " |\n";
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
