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
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/args.hpp"
#include "cli/commands.hpp"
#include "core/block_gemm.hpp"
#include "core/first_touch.hpp"
#include "core/sleep_profile.hpp"
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
    "kernels and Eigen's) and reports the block algorithm's flop count, the blocked runs'\n"
    "effective GEMM rate as a fraction of the kernels' best, where each run's time went\n"
    "(population, set-up, GEMM tiles, boundaries, sub-steps, waits), the default block\n"
    "in fp32 (run.precision) and without transparent huge pages, and the goals of\n"
    "docs/sleep_speed.md.\n";

constexpr int kShortRepeats = 7;

struct Outcome {
    double seconds = -1.0;
    double peak_mib = 0.0;
    int status = -1;
    SleepProfile profile;  // of the best run
};

// What a child sends back: its seconds, then its phases.
struct ChildReport {
    double seconds = -1.0;
    SleepProfile profile;
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
Outcome run_child(const SimConfig& cfg, int threads, bool huge) {
    int fd[2];
    if (pipe(fd) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        close(fd[0]);
        omp_set_num_threads(threads);
        set_huge_pages(huge);
        PhaseLikeObserver obs;
        ChildReport rep;
        try {
            const RunPlan plan = make_plan(cfg);
            const std::vector<std::vector<double>> weights = initial_weights(cfg, plan);
            reset_sleep_profile();  // the phases of the timed run only
            const auto t0 = std::chrono::steady_clock::now();
            const RunResult r = run_engine(cfg, plan, weights, obs, nullptr);
            rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            rep.profile = sleep_profile();
            if (r.status != RunStatus::complete) rep.seconds = -2.0;
        } catch (...) {
            rep.seconds = -3.0;
        }
        const ssize_t w = write(fd[1], &rep, sizeof rep);
        _exit(w == sizeof rep ? 0 : 1);
    }
    close(fd[1]);
    Outcome o;
    ChildReport rep;
    if (read(fd[0], &rep, sizeof rep) == sizeof rep) {
        o.seconds = rep.seconds;
        o.profile = rep.profile;
    }
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

// Memory bandwidth of a block end's pattern (BlockedLayer::boundary, with
// momentum): w, v, w0 read, w and v written in place, 5 values per weight,
// `threads` threads over arrays far larger than any cache (64 MiB each in
// fp64): best of 3 passes, in bytes/s.
double boundary_bandwidth(int threads) {
    const int64_t n = int64_t(8) << 20;
    std::vector<double> w(static_cast<size_t>(n)), v(w.size()), w0(w.size());
    double best = 0.0;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < n; ++i) {  // each thread first touches its own part, as the engine's populate does
        w[i] = 1.0;
        v[i] = 0.5;
        w0[i] = 0.25;
    }
    for (int rep = 0; rep < 4; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t i = 0; i < n; ++i) {
            const double a = w[i], b = v[i], c = w0[i];
            w[i] = 0.999 * a + 0.001 * b + 1e-4 * c;
            v[i] = 1e-3 * a + 0.95 * b - 1e-3 * c;
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (rep > 0) best = std::max(best, 5.0 * sizeof(double) * static_cast<double>(n) / s);  // the first warms up
    }
    return best;
}

// Weights of a plan (all layers).
double plan_weights(const SimConfig& cfg) {
    double w = 0.0;
    for (const LayerPlan& pl : make_plan(cfg).layers) w += static_cast<double>(pl.weight_count());
    return w;
}

// The machine's load (1-minute average) and the OpenMP wait settings: on a
// shared machine both move the times more than most changes do.
std::string load_now() {
    double l[1] = {-1.0};
    if (getloadavg(l, 1) != 1) return "?";
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", l[0]);
    return b;
}

std::string wait_settings() {
    std::string out;
    for (const char* v : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "DYNSHARE_BLOCK_KERNEL", "DYNSHARE_HUGE_PAGES"})
        if (const char* e = std::getenv(v)) out += std::string(out.empty() ? "" : ", ") + v + "=" + e;
    return out.empty() ? "none set" : out;
}

std::string fmt(double v, int prec = 2) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

}  // namespace

int bench_sleep(int argc, char** argv) {
    const app::Args args = app::parse_args(argc, argv, 2,
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
    const int threads = app::parse_int(args.get("--threads", "2"), "--threads");
    if (threads < 1) throw UserError("--threads: must be >= 1");
    auto int_list = [&](const char* key, const char* fallback) {
        std::vector<int64_t> out;
        std::stringstream ss(args.get(key, fallback));
        std::string item;
        while (std::getline(ss, item, ',')) {
            const int64_t v = app::parse_int(item, key);
            if (v < 1) throw UserError(std::string(key) + ": " + item + " is not >= 1");
            out.push_back(v);
        }
        if (out.empty()) throw UserError(std::string(key) + ": give at least one integer >= 1");
        return out;
    };
    const std::vector<int64_t> blocks = int_list("--block", "20,40");
    const std::vector<int64_t> counts = int_list("--presentations", "100,1000");
    const int repeats = app::parse_int(args.get("--repeats", "1"), "--repeats");
    if (repeats < 1) throw UserError("--repeats: must be >= 1");
    std::string block_list;
    for (int64_t b : blocks) block_list += (block_list.empty() ? "" : ",") + std::to_string(b);
    const int64_t q4b = app::parse_int(args.get("--fig4b-presentations", "10000"), "--fig4b-presentations");
    if (q4b < 1) throw UserError("--fig4b-presentations: must be >= 1");
    const std::string config =
        args.get("--config", std::string(DYNSHARE_SOURCE_DIR) + "/experiments/resnet20_stack.yaml");
    const SimConfig resnet = load_config(config, {});
    const std::string load_before = load_now();

    // The default block (dynamics.block's default if asked for, else the
    // largest asked for) also runs in fp32 and without huge pages.
    const int64_t dflt = std::find(blocks.begin(), blocks.end(), DynamicsParams{}.block) != blocks.end()
                             ? DynamicsParams{}.block
                             : *std::max_element(blocks.begin(), blocks.end());
    struct Case {
        int64_t block;
        bool fp32, huge;
        std::string label() const {
            return std::string(fp32 ? "fp32" : "fp64") + (huge ? ", huge pages" : "");
        }
    };
    struct Row {
        std::string name;
        int64_t presentations;
        Case c;
        Outcome o;
        double flops, base;
    };
    std::vector<Row> rows;
    auto run_cases = [&](const std::string& name, SimConfig cfg, int64_t presentations, bool as_sleep_phase,
                         bool variants) {
        cfg.run.presentations = presentations;
        if (as_sleep_phase) {  // as run_sleep_phase runs it: records at the start and end only, no checkpoints
            cfg.run.record_every = std::numeric_limits<int64_t>::max() / 2;
            cfg.run.checkpoint_every = std::numeric_limits<int64_t>::max() / 2;
        }
        std::vector<Case> cases{{1, false, false}};
        for (int64_t b : blocks)
            if (b != 1) cases.push_back({b, false, false});
        if (variants && dflt > 1) {
            cases.push_back({dflt, true, false});
            if (presentations == *std::min_element(counts.begin(), counts.end())) cases.push_back({dflt, false, true});
        }
        std::vector<Outcome> best(cases.size());
        // Cases under a second (the Fig. 4B curve) jitter by a third between
        // runs on a shared machine, more than any difference between their
        // blocks: they run at least kShortRepeats times.
        int reps = repeats;
        for (int rep = 0; rep < reps; ++rep) {
            for (size_t i = 0; i < cases.size(); ++i) {
                cfg.dynamics.block = cases[i].block;
                cfg.run.precision = cases[i].fp32 ? Precision::fp32 : Precision::fp64;
                validate(cfg);
                std::fprintf(stderr, "bench --sleep: %s, %lld presentations, block %lld, %s (run %d of %d) ...\n",
                             name.c_str(), static_cast<long long>(presentations),
                             static_cast<long long>(cases[i].block), cases[i].label().c_str(), rep + 1, reps);
                const Outcome o = run_child(cfg, threads, cases[i].huge);
                if (o.seconds < 0) throw std::runtime_error("bench --sleep: the run of " + name + " failed");
                const double peak = std::max(best[i].peak_mib, o.peak_mib);
                if (best[i].seconds < 0 || o.seconds < best[i].seconds) best[i] = o;
                best[i].peak_mib = peak;
            }
            if (rep == 0 && std::all_of(best.begin(), best.end(), [](const Outcome& o) { return o.seconds < 1.0; }))
                reps = std::max(reps, kShortRepeats);
        }
        const double flops = block_flops(cfg);
        for (size_t i = 0; i < cases.size(); ++i)
            rows.push_back({name, presentations, cases[i], best[i], flops, best[0].seconds});
    };
    for (int64_t c : counts) run_cases("ResNet-20 sleep phase", resnet, c, true, true);
    SimConfig fig4b;  // the built-in default: one Fig. 4B curve, k = 9
    run_cases("Fig. 4B curve (k = 9)", fig4b, q4b, false, false);

    // The kernels' GEMM rates, after the runs (the children are forked
    // before this process starts any thread): the runs' effective rates are
    // reported as fractions of the best of them.
    std::ostringstream kernels;
    double best_kernel = 0.0;
    kernels << "| k | P | drives, block kernels | drives, Eigen | update, block kernels | update, Eigen |\n"
            << "|---:|---:|---:|---:|---:|---:|\n";
    for (int64_t b : blocks)
        for (int64_t k : {int64_t(144), int64_t(576)}) {
            std::fprintf(stderr, "bench --sleep: GEMM rates, k = %lld, P = %lld ...\n", static_cast<long long>(k),
                         static_cast<long long>(b));
            const double kd = kernel_rate(threads, k, b, false), ku = kernel_rate(threads, k, b, true);
            best_kernel = std::max({best_kernel, kd, ku});
            kernels << "| " << k << " | " << b << " | " << fmt(kd / 1e9, 1) << " | "
                    << fmt(gemm_rate(threads, k, b, false) / 1e9, 1) << " | " << fmt(ku / 1e9, 1) << " | "
                    << fmt(gemm_rate(threads, k, b, true) / 1e9, 1) << " |\n";
        }

    std::fprintf(stderr, "bench --sleep: memory bandwidth of a block end ...\n");
    const double bandwidth = boundary_bandwidth(threads);

    std::string count_list;
    for (int64_t c : counts) count_list += (count_list.empty() ? "" : ",") + std::to_string(c);
    std::ostringstream md;
    md << "# Blocked presentations: benchmark\n\n"
       << "`dynshare bench --sleep --threads " << threads << " --block " << block_list << " --presentations "
       << count_list << " --repeats " << repeats << "`; block kernels: " << to_string(block_isa())
       << ". Each case in its own "
       << "process (engine time on weights drawn before the clock starts, no output file; the sleep phase "
       << "run as the trainer runs it: records at its start and end only, no state copies but the final "
       << "weights; peak = the process's maximum resident set); best of " << repeats
       << " runs per case (at least " << kShortRepeats
       << " where every block's first run took under a second), the cases in turn. Block " << dflt
       << " also runs in fp32 (run.precision) and, at the fewest presentations, in fp64 with transparent huge "
          "pages (DYNSHARE_HUGE_PAGES=1, core/first_touch.hpp). GEMM rate: the block GEMMs' flops over the run's "
          "whole wall time; "
          "fraction: of the best rate of the block kernels below ("
       << fmt(best_kernel / 1e9, 1) << " GFLOP/s, fp64). Load average (1 min) " << load_before << " at the start, "
       << load_now() << " at the end (" << std::thread::hardware_concurrency()
       << " CPUs); environment: " << wait_settings() << ".\n\n"
       << "| case | presentations | block | precision | seconds | speed-up | peak MiB | GEMM flops | GFLOP/s of "
          "the block GEMMs | fraction of the kernels' best |\n"
       << "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n";
    auto seconds_of = [&](const std::string& name, int64_t pres, int64_t block, bool fp32, bool huge) {
        for (const Row& r : rows)
            if (r.name == name && r.presentations == pres && r.c.block == block && r.c.fp32 == fp32 && r.c.huge == huge)
                return r.o.seconds;
        return -1.0;
    };
    auto prof_of = [&](const std::string& name, int64_t pres, bool huge) {
        for (const Row& r : rows)
            if (r.name == name && r.presentations == pres && r.c.block == dflt && !r.c.fp32 && r.c.huge == huge)
                return r.o.profile;
        return SleepProfile{};
    };
    for (const Row& r : rows) {
        const int64_t b = r.c.block;
        const bool is_default = b == DynamicsParams{}.block;
        const double rate = r.flops / r.o.seconds;
        md << "| " << r.name << " | " << r.presentations << " | " << b << (is_default ? " (default)" : "") << " | "
           << r.c.label() << " | " << fmt(r.o.seconds) << " | "
           << (b == 1 ? std::string("1") : fmt(r.base / r.o.seconds)) << " | " << fmt(r.o.peak_mib, 0) << " | "
           << fmt(r.flops / 1e9, 1) << " G | " << (b == 1 ? std::string("-") : fmt(rate / 1e9, 1)) << " | "
           << (b == 1 || r.c.fp32 ? std::string("-") : fmt(100.0 * rate / best_kernel, 0) + " %") << " |\n";
    }

    md << "\nWhere the blocked runs' time went (seconds of wall time; core/sleep_profile.hpp): population = "
          "pages prefaulted (inside set-up and final weights, GiB in brackets); set-up = the engine's allocation, "
          "weight copies and plans; patterns = "
          "the first layer's inputs; at the block boundaries, the GEMM tiles, the materialisation of w and v (and "
          "the inputs' transposes) and the waits (idle threads at the barrier); per presentation, the corrections "
          "and dot products, the integrator's sub-steps (the next layer's inputs built alongside) and the folds; "
          "the final weights handed back; other = the rest (the loop, the small serial parts).\n\n"
       << "| case | presentations | block | precision | seconds | population (GiB) | set-up | patterns | GEMM tiles | "
          "materialisation | boundary waits | corrections | sub-steps | folds | final weights | other |\n"
       << "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const Row& r : rows) {
        if (r.c.block == 1) continue;
        const double* s = r.o.profile.seconds;
        double sum = 0.0;
        for (int i = 0; i < kSleepPhases; ++i)
            if (i != static_cast<int>(SleepPhase::population)) sum += s[i];
        auto ph = [&](SleepPhase p) { return fmt(s[static_cast<int>(p)], 3); };
        md << "| " << r.name << " | " << r.presentations << " | " << r.c.block << " | " << r.c.label() << " | "
           << fmt(r.o.seconds) << " | " << ph(SleepPhase::population) << " ("
           << fmt(r.o.profile.populated_bytes / double(1 << 30), 2) << ") | " << ph(SleepPhase::set_up) << " | "
           << ph(SleepPhase::patterns) << " | " << ph(SleepPhase::gemm) << " | " << ph(SleepPhase::materialise)
           << " | " << ph(SleepPhase::boundary_waits) << " | " << ph(SleepPhase::corrections) << " | "
           << ph(SleepPhase::substeps) << " | " << ph(SleepPhase::folds) << " | " << ph(SleepPhase::finish) << " | "
           << fmt(std::max(0.0, r.o.seconds - sum), 3) << " |\n";
    }

    // The goals of docs/sleep_speed.md, on this invocation's numbers.
    const std::string rn = "ResNet-20 sleep phase";
    const int64_t few = *std::min_element(counts.begin(), counts.end());
    const int64_t many = *std::max_element(counts.begin(), counts.end());
    const double t_many = seconds_of(rn, many, dflt, false, false), t_few = seconds_of(rn, few, dflt, false, false);
    const double t32 = seconds_of(rn, many, dflt, true, false), t_huge = seconds_of(rn, few, dflt, false, true);
    double flops_many = 0.0;
    for (const Row& r : rows)
        if (r.name == rn && r.presentations == many) flops_many = r.flops;
    const double frac = flops_many / t_many / best_kernel;
    auto met = [](bool ok) { return ok ? "met" : "**not met**"; };
    md << "\nGoals (issue 33, docs/sleep_speed.md), block " << dflt << ", " << threads << " threads:\n\n"
       << "| goal | measured | |\n|---|---:|---|\n"
       << "| " << many << " presentations, fp64: effective block-GEMM rate >= 50 % of the kernels' best | "
       << fmt(100.0 * frac, 0) << " % | " << met(frac >= 0.5) << " |\n"
       << "| " << few << " presentations in a fresh process: <= 1 s | " << fmt(t_few) << " s | " << met(t_few <= 1.0)
       << " |\n"
       << "| " << many << " presentations: fp32 >= 1.6x faster than fp64 | " << fmt(t_many / t32) << "x | "
       << met(t_many / t32 >= 1.6) << " |\n\n"
       << "With transparent huge pages the " << few << "-presentation run took " << fmt(t_huge) << " s against "
       << fmt(t_few) << " s (population " << fmt(prof_of(rn, few, true).seconds[0], 2) << " s against "
       << fmt(prof_of(rn, few, false).seconds[0], 2) << " s).\n";

    // A block end's bytes at the measured bandwidth (docs/sleep_speed.md):
    // 5 values per weight (w, v, w0 read; w, v written), the GEMMs' flops
    // per weight 10 per presentation (W X, W0 X, V X, Cw X^T, Cv X^T).
    const double nw = plan_weights(resnet);
    md << "\nMemory bandwidth of a block end's pattern (w, v, w0 read, w, v written in place; " << threads
       << " threads, 3 x 64 MiB): " << fmt(bandwidth / 1e9, 1) << " GB/s. A block end of the ResNet-20 phase ("
       << fmt(nw / 1e6, 1) << " M weights) moves 40 bytes per weight in fp64 (" << fmt(40.0 * nw / 1e9, 2)
       << " GB: " << fmt(40.0 * nw / bandwidth, 3) << " s at that rate) and 20 in fp32 ("
       << fmt(20.0 * nw / bandwidth, 3) << " s); the block's GEMMs do 10 flops per weight and presentation, "
       << fmt(10.0 * dflt * nw / best_kernel, 3) << " s per block of " << dflt
       << " at the kernels' best rate. Boundaries and GEMMs cost the same at a block of "
       << fmt(4.0 * best_kernel / bandwidth, 0) << " presentations (fp64).\n";

    md << "\nGEMM flop rate of this machine, " << threads
       << " threads, single-threaded kernels on 256-row chunks as in src/core/block.cpp (drives: (256 x k) "
          "(k x P); update: (256 x P) (P x k)): dynshare's block kernels ("
       << to_string(block_isa()) << ", in use) and Eigen's (portable build), GFLOP/s, fp64:\n\n"
       << kernels.str();
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
