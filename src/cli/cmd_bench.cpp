// SPDX-License-Identifier: BSD-3-Clause
// dynshare bench: times one Fig. 4B curve with every integrator against the
// plain C++ loop and the numpy baseline (bench/numpy_fig4b.py), all in this
// invocation on one pinned core, and writes a Markdown report. Ratios, not
// absolute times, are the result: they are measured side by side.
#include <omp.h>
#include <sched.h>

#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include "app/args.hpp"
#include "cli/commands.hpp"
#include "core/reference_euler.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/single_layer.hpp"
#include "io/config_yaml.hpp"
#include "io/output_file.hpp"

namespace dynshare::cli {

namespace {

const char* kHelp =
    "usage: dynshare bench [-o REPORT.md] [--overwrite] [--kernels 3,6,9] [--presentations P]\n"
    "                      [--numpy-presentations Q] [--numpy SCRIPT] [--python EXE] [--repeats R]\n"
    "                      [--numpy-timeout S]\n"
    "\n"
    "Times one Fig. 4B curve (N = 100, alpha = 10, gamma = 0.1, 150 ms presentations,\n"
    "1 ms steps, SNR recorded every 150 steps) for each kernel size:\n"
    "  - the engine with each integrator (euler, rk4, dopri5, exponential), P presentations;\n"
    "  - the plain C++ loop over all N k^2 weights per step (first 200 presentations, scaled);\n"
    "  - the numpy baseline bench/numpy_fig4b.py (first Q presentations, scaled; default 300);\n"
    "all pinned to one core in this invocation. Also reports how far the exponential\n"
    "integrator's -log SNR_w curve is from Euler's. Defaults: P = 10000, R = 3 (best of R).\n"
    "The numpy baseline is stopped after S seconds (default 600): a --python that never\n"
    "exits gives n/a in the report, not a hang.\n"
    "dynshare bench --sleep [...]: blocked presentations against block 1 (see dynshare bench --sleep --help).\n";

struct Curve {
    double seconds = 0.0;
    std::vector<double> nls;
    int64_t substeps = 0;
};

struct CurveObserver : RunObserver {
    std::vector<double>* out;
    explicit CurveObserver(std::vector<double>* o) : out(o) {}
    void on_record(int64_t, double, const std::vector<double>& v, const std::vector<double>&) override {
        out->push_back(v[0]);
    }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Curve time_engine(const SimConfig& cfg, int repeats) {
    Curve best;
    best.seconds = 1e300;
    for (int r = 0; r < repeats; ++r) {
        Curve c;
        CurveObserver obs(&c.nls);
        const auto t0 = std::chrono::steady_clock::now();
        const RunResult res = run_single_layer(cfg, obs);
        c.seconds = seconds_since(t0);
        c.substeps = res.integrator_steps;
        if (c.seconds < best.seconds) best = std::move(c);
    }
    return best;
}

// Seconds per step of the plain loop, from a short run.
double plain_seconds_per_step(SimConfig cfg, int64_t presentations) {
    cfg.run.presentations = presentations;
    const auto t0 = std::chrono::steady_clock::now();
    reference_euler_run(cfg);
    return seconds_since(t0) / static_cast<double>(cfg.total_steps());
}

// Runs the numpy baseline and returns its seconds per step (or -1 with why).
double numpy_seconds_per_step(const std::string& python, const std::string& script, int k, int64_t presentations,
                              int64_t timeout_s, std::string* why) {
    // coreutils timeout: TERM after the limit, KILL 10 s later (exit 124 / 137).
    const std::string cmd = "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 timeout -k 10 " + std::to_string(timeout_s) +
                            " " + python + " " + script + " --kernel " +
                            std::to_string(k) + " --presentations " + std::to_string(presentations) +
                            " --json 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
    if (!pipe) {
        *why = "cannot start " + python;
        return -1;
    }
    std::string out;
    std::array<char, 4096> buf{};
    while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
    const int status = pclose(pipe.release());
    if (WIFEXITED(status) && (WEXITSTATUS(status) == 124 || WEXITSTATUS(status) == 137)) {
        *why = "numpy baseline did not finish within --numpy-timeout " + std::to_string(timeout_s) + " s";
        return -1;
    }
    const auto pos = out.find("\"us_per_step\":");
    if (pos == std::string::npos) {
        *why = "numpy baseline failed: " + out.substr(0, 200);
        return -1;
    }
    return std::stod(out.substr(pos + 14)) * 1e-6;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b, size_t from) {
    double m = 0.0;
    for (size_t i = from; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

std::vector<int> parse_kernels(const std::string& s) {
    std::vector<int> ks;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) ks.push_back(app::parse_int(item, "--kernels"));
    return ks;
}

}  // namespace

int bench_sleep(int argc, char** argv);  // dynshare bench --sleep: src/cli/bench_sleep.cpp

int cmd_bench(int argc, char** argv) {
    for (int i = 2; i < argc; ++i)
        if (std::string(argv[i]) == "--sleep") return bench_sleep(argc, argv);
    const app::Args args = app::parse_args(argc, argv, 2,
                                           {{"-o", true, false},
                                            {"--kernels", true, false},
                                            {"--presentations", true, false},
                                            {"--numpy-presentations", true, false},
                                            {"--numpy", true, false},
                                            {"--python", true, false},
                                            {"--numpy-timeout", true, false},
                                            {"--repeats", true, false},
                                            {"--overwrite", false, false},
                                            {"--help", false, false},
                                            {"-h", false, false}},
                                           "bench");
    if (args.has("--help") || args.has("-h")) {
        std::fputs(kHelp, stdout);
        std::fputs("\nDocumentation: docs/guide/bench.md\n", stdout);  // the user guide's page
        return 0;
    }
    const std::string report = args.get("-o", "bench_report.md");
    check_output(report, args.has("--overwrite"));
    const std::vector<int> kernels = parse_kernels(args.get("--kernels", "3,6,9"));
    for (int k : kernels)
        if (k < 1 || k > 64) throw UserError("--kernels: " + std::to_string(k) + " is not a kernel size from 1 to 64");
    const int64_t P = app::parse_int(args.get("--presentations", "10000"), "--presentations");
    const int64_t Q = app::parse_int(args.get("--numpy-presentations", "300"), "--numpy-presentations");
    const int64_t numpy_timeout = app::parse_int(args.get("--numpy-timeout", "600"), "--numpy-timeout");
    if (numpy_timeout < 1) throw UserError("--numpy-timeout = " + std::to_string(numpy_timeout) + ": must be >= 1");
    const int repeats = app::parse_int(args.get("--repeats", "3"), "--repeats");
    if (P < 1) throw UserError("--presentations = " + std::to_string(P) + ": must be >= 1");
    if (Q < 1) throw UserError("--numpy-presentations = " + std::to_string(Q) + ": must be >= 1");
    if (repeats < 1 || repeats > 100) throw UserError("--repeats = " + std::to_string(repeats) + ": must be from 1 to 100");
    const std::string script = args.get("--numpy", std::string(DYNSHARE_SOURCE_DIR) + "/bench/numpy_fig4b.py");
    const std::string python = args.get("--python", "/usr/bin/python3");
    if (!std::filesystem::is_regular_file(script)) throw UserError("--numpy " + script + ": no such file");
    if (::access(python.c_str(), X_OK) != 0) throw UserError("--python " + python + ": not an executable file");
    const int64_t plain_p = std::min<int64_t>(P, 200), numpy_p = std::min(P, Q);

    // One core for everything, the numpy child included (it inherits the mask).
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set);
    omp_set_num_threads(1);

    std::ostringstream md;
    md << "# dynshare bench: one Fig. 4B curve per kernel size\n\n"
       << "N = 100, alpha = 10, gamma = 0.1, " << P << " presentations of 150 ms at dt = 1 ms ("
       << P * 150 << " steps), -log SNR_w every 150 steps; one pinned core; engine times best of " << repeats
       << ". Plain loop and numpy timed on their first " << plain_p << " / " << numpy_p
       << " presentations and scaled to all " << P << ".\n\n"
       << "| k | engine euler (s) | plain C++ loop (s) | numpy (s) | euler vs numpy | euler vs plain | rk4 (s) | "
          "dopri5 (s) | exponential (s) | exponential vs euler | max abs diff exp-euler (p >= 1000 / all) |\n"
       << "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (int k : kernels) {
        SimConfig cfg;
        cfg.layer.kernel = k;
        cfg.run.presentations = P;
        validate(cfg);
        std::fprintf(stderr, "bench: k = %d ...\n", k);
        const Curve euler = time_engine(cfg, repeats);
        SimConfig c = cfg;
        c.dynamics.integrator = Integrator::rk4;
        const Curve rk4 = time_engine(c, 1);
        c.dynamics.integrator = Integrator::dopri5;
        const Curve dopri = time_engine(c, 1);
        c.dynamics.integrator = Integrator::exponential;
        const Curve expo = time_engine(c, repeats);
        const double plain = plain_seconds_per_step(cfg, plain_p) * cfg.total_steps();
        std::string why;
        const double np_step = numpy_seconds_per_step(python, script, k, numpy_p, numpy_timeout, &why);
        const double numpy = np_step > 0 ? np_step * cfg.total_steps() : -1;
        // Records are one per presentation (plus step 0): index 1000 is presentation 1000.
        char late[32] = "n/a";
        if (euler.nls.size() > 1000 && expo.nls.size() > 1000)
            std::snprintf(late, sizeof late, "%.3f", max_abs_diff(euler.nls, expo.nls, 1000));
        char numpy_s[32] = "n/a", numpy_x[32] = "n/a";
        if (numpy > 0) {
            std::snprintf(numpy_s, sizeof numpy_s, "%.3g", numpy);
            std::snprintf(numpy_x, sizeof numpy_x, "%.0fx", numpy / euler.seconds);
        }
        char row[1024];
        std::snprintf(row, sizeof row,
                      "| %d | %.3f | %.3g | %s | %s | %.0fx | %.3f | %.3f | %.3f | %.1fx | %s / %.3f |\n", k,
                      euler.seconds, plain, numpy_s, numpy_x, plain / euler.seconds, rk4.seconds, dopri.seconds,
                      expo.seconds, euler.seconds / expo.seconds, late, max_abs_diff(euler.nls, expo.nls, 1));
        md << row;
        if (numpy < 0) md << "\nnumpy baseline unavailable for k = " << k << ": " << why << "\n";
    }
    md << "\nThe exponential integrator takes adaptive sub-steps (at most one presentation; see "
          "docs/integrators.md); its curve differs from Euler's most in the first presentations, "
          "where the discrete momentum of the Euler run lags the continuous-time plasticity.\n";
    // Written beside the report's name and renamed over it once complete.
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
