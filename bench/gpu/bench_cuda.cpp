// SPDX-License-Identifier: BSD-3-Clause
// GPU benchmark of the CUDA backend (issue 4, "Performance"):
//  1. the card's ceilings, measured in this run: device copy bandwidth and fp32 FMA rate;
//  2. (a) a batch of Fig. 4B-sized runs (N = 100, k = 9, 150 Euler steps per
//     presentation, 10,000 presentations = 1.5 M steps each by default) through
//     Backend::run_batch, with each kernel's FLOPs and minimum bytes counted
//     analytically (below), the achieved rates against the ceilings, and the
//     speed-up over the CPU backend on all cores (timed on a subset of the runs,
//     one run per core as `dynshare sweep` does, and scaled to the whole batch);
//  3. (b) the stacked sleep phase of --stack-config (default
//     experiments/resnet20_stack.yaml) at 100 and 1000 presentations on the
//     device, against the CPU backend on all cores at 100 presentations; when
//     the CUDA backend refuses stacked plans, its reason is reported instead;
//  4. (c) the distance between fp32 and fp64 curves: --compare-runs Fig. 4B runs
//     of --compare-presentations in both precisions, max and mean |difference|
//     of -log SNR_w over all records.
//  5. (d) a sweep of stacked configs (--stack-sweep-config, default
//     experiments/stack3.yaml): --stack-sweep-runs runs (seeds 0.., alpha
//     varied) of --stack-sweep-presentations, batched through run_batch,
//     against the same runs one after another on the device (timed on up to 8
//     runs and scaled): runs per second and the batching's gain.
//
//   dynshare_bench_gpu [--runs 10000] [--presentations 10000] [--precision fp32|fp64]
//                      [--cpu-runs 32] [--cpu-presentations 100] [--stack-config FILE]
//                      [--stack-presentations 100,1000] [--compare-runs 64]
//                      [--compare-presentations 2000] [--stack-sweep-config FILE]
//                      [--stack-sweep-runs 256] [--stack-sweep-presentations 20]
//                      [--ceiling-seconds 1] [--json FILE]
//
// Built twice: for the GPU (cmake/Cuda.cmake, with nvcc) and as
// dynshare_bench_gpu_emulated on the CPU emulator of the kernels
// (DYNSHARE_BENCH_EMULATED), so that every line of it runs in CI at toy sizes
// (tests/CMakeLists.txt, BenchGpu.EmulatedDryRun). The emulated numbers mean
// nothing as speeds.
//
// FLOP count per run (Euler, discrete momentum, eta > 0; an FMA counts 2):
//   per step and neuron: drive z = sw + F sv + G sd + c xx           6
//                        r += h (-r + z + d0)                         4
//                        e = mu e + gamma c + (r - b); c -= eta e      7
//                        module-mean sum                              1   -> 18 n
//   per step and run:    r_inh update 4, shared A, B, F, G update 10     -> 14
//   per presentation:    dots w.x, v.x, w0.x per neuron (2K each)     6 K n
//                        materialize w (7) and v (5) per weight       12 K n
//                        record (-log SNR_w pass, 4 per weight)       4 K n (when a record falls)
// Minimum bytes per presentation and run (state in registers/shared memory,
// every weight array read or written once, fp32: 4 bytes, fp64: 8):
//   read w, w0, v and write w, v: 5 K n elements. Everything else (x drawn on
//   the device, rates and coordinates in registers) needs no DRAM traffic.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "cuda/kernels.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/plan.hpp"
#include "dynshare/run_observer.hpp"
#include "io/config_yaml.hpp"

using namespace dynshare;

namespace {

struct LastRecord : RunObserver {
    int64_t records = 0;
    double last = 0.0;
    void on_record(int64_t, double, const std::vector<double>& v, const std::vector<double>&) override {
        ++records;
        last = v.empty() ? 0.0 : v[0];
    }
};

// Every record of a run (each record's values: one per layer).
struct AllRecords : RunObserver {
    std::vector<double> values;
    void on_record(int64_t, double, const std::vector<double>& v, const std::vector<double>&) override {
        values.insert(values.end(), v.begin(), v.end());
    }
};

#ifdef DYNSHARE_BENCH_EMULATED
const char* kProgram = "dynshare_bench_gpu_emulated";
const cuda::DeviceApi& device_api() { return cuda::emulated::api(); }
bool device_usable(std::string*) { return true; }
std::unique_ptr<Backend> device_backend(DevicePrecision p) { return make_cuda_backend_emulated(p); }
#else
const char* kProgram = "dynshare_bench_gpu";
const cuda::DeviceApi& device_api() { return cuda::device::api(); }
bool device_usable(std::string* why) { return cuda_usable(why); }
std::unique_ptr<Backend> device_backend(DevicePrecision p) { return make_cuda_backend(p); }
#endif

std::vector<int64_t> parse_list(const std::string& s) {
    std::vector<int64_t> out;
    size_t a = 0;
    while (a <= s.size()) {
        const size_t b = std::min(s.find(',', a), s.size());
        out.push_back(std::stoll(s.substr(a, b - a)));
        a = b + 1;
    }
    return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Counts {
    double flop = 0.0, bytes = 0.0;
};

Counts fig4b_counts(const SimConfig& c, int64_t runs, size_t elem) {
    const double n = c.layer.neurons, K = double(c.layer.kernel) * c.layer.kernel;
    const double S = double(c.steps_per_presentation()), P = double(c.run.presentations);
    const double records_per_presentation = S / double(c.run.record_every);
    const double per_presentation = S * (18.0 * n + 14.0) + 18.0 * K * n + 4.0 * K * n * records_per_presentation;
    Counts out;
    out.flop = per_presentation * P * double(runs);
    out.bytes = 5.0 * K * n * double(elem) * P * double(runs);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int64_t runs = 10000, presentations = 10000, cpu_runs = 0, cpu_presentations = 100;
    int64_t compare_runs = 64, compare_presentations = 2000;
    double ceiling_seconds = 1.0;
    std::vector<int64_t> stack_presentations = {100, 1000};
    std::string precision = "fp32", json, stack_config = "experiments/resnet20_stack.yaml";
    std::string sweep_config = "experiments/stack3.yaml";
    int64_t sweep_runs = 256, sweep_presentations = 20;
    for (int a = 1; a < argc; ++a) {
        const std::string s = argv[a];
        auto next = [&]() -> std::string {
            if (a + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", s.c_str());
                std::exit(2);
            }
            return argv[++a];
        };
        if (s == "--runs") runs = std::stoll(next());
        else if (s == "--presentations") presentations = std::stoll(next());
        else if (s == "--precision") precision = next();
        else if (s == "--cpu-runs") cpu_runs = std::stoll(next());
        else if (s == "--cpu-presentations") cpu_presentations = std::stoll(next());
        else if (s == "--json") json = next();
        else if (s == "--stack-config") stack_config = next();
        else if (s == "--ceiling-seconds") ceiling_seconds = std::stod(next());
        else if (s == "--stack-presentations") stack_presentations = parse_list(next());
        else if (s == "--compare-runs") compare_runs = std::stoll(next());
        else if (s == "--compare-presentations") compare_presentations = std::stoll(next());
        else if (s == "--stack-sweep-config") sweep_config = next();
        else if (s == "--stack-sweep-runs") sweep_runs = std::stoll(next());
        else if (s == "--stack-sweep-presentations") sweep_presentations = std::stoll(next());
        else {
            std::fprintf(stderr,
                         "usage: %s [--runs N] [--presentations P] [--precision fp32|fp64]\n"
                         "       [--cpu-runs M] [--cpu-presentations Q] [--stack-config FILE]\n"
                         "       [--stack-presentations 100,1000] [--compare-runs R] [--compare-presentations C]\n"
                         "       [--stack-sweep-config FILE] [--stack-sweep-runs S] [--stack-sweep-presentations Q]\n"
                         "       [--ceiling-seconds 1] [--json FILE]\n",
                         kProgram);
            return s == "--help" || s == "-h" ? 0 : 2;
        }
    }
    std::string why;
    if (!device_usable(&why)) {
        std::fprintf(stderr, "%s: %s\n", kProgram, why.c_str());
        return 1;
    }
    const DevicePrecision prec = precision == "fp64" ? DevicePrecision::fp64 : DevicePrecision::fp32;
    const size_t elem = prec == DevicePrecision::fp64 ? 8 : 4;
    const int threads = omp_get_max_threads();
    if (cpu_runs <= 0) cpu_runs = 2 * threads;

    // --- 1. ceilings ---------------------------------------------------------
    double bw = 0.0, fp32 = 0.0;
    if (const char* e = device_api().measure_copy_bandwidth(ceiling_seconds, &bw)) std::fprintf(stderr, "copy bandwidth: %s\n", e);
    if (const char* e = device_api().measure_fp32_rate(ceiling_seconds, &fp32)) std::fprintf(stderr, "fp32 rate: %s\n", e);
    std::printf("ceilings: copy bandwidth %.1f GB/s (read + write), fp32 FMA rate %.1f TFLOP/s\n", bw * 1e-9,
                fp32 * 1e-12);

    // --- 2. (a) Fig. 4B batch -------------------------------------------------
    SimConfig base;  // the built-in defaults are Fig. 4B (experiments/fig4b.yaml)
    base.run.presentations = presentations;
    std::vector<SimConfig> cfgs(static_cast<size_t>(runs), base);
    for (int64_t i = 0; i < runs; ++i) cfgs[size_t(i)].run.seed = static_cast<uint64_t>(i);
    std::vector<LastRecord> obs(cfgs.size());
    std::vector<RunObserver*> ptrs;
    for (auto& o : obs) ptrs.push_back(&o);
    auto gpu = device_backend(prec);
    BatchOptions opt;
    opt.checkpoints = false;
    opt.final_state = false;
    const auto t0 = std::chrono::steady_clock::now();
    const auto results = gpu->run_batch(cfgs, ptrs, opt);
    const double t_gpu = seconds_since(t0);
    int64_t diverged = 0, records = 0;
    double mean_last = 0.0;
    for (size_t i = 0; i < results.size(); ++i) {
        diverged += results[i].status == RunStatus::diverged;
        records += obs[i].records;
        mean_last += obs[i].last / double(results.size());
    }
    const Counts cnt = fig4b_counts(base, runs, elem);
    const double steps = double(runs) * presentations * base.steps_per_presentation();
    std::printf("(a) %lld Fig. 4B runs x %lld presentations (%.3g Euler steps each), %s: %.2f s on the GPU\n",
                (long long)runs, (long long)presentations, double(presentations * base.steps_per_presentation()),
                precision.c_str(), t_gpu);
    std::printf("    %.3g neuron-steps/s; %lld records; %lld diverged; mean final -log SNR_w %.4f\n",
                steps * base.layer.neurons / t_gpu, (long long)records, (long long)diverged, mean_last);
    std::printf("    analytic FLOPs %.3g -> %.2f TFLOP/s = %.1f%% of the fp32 ceiling\n", cnt.flop,
                cnt.flop / t_gpu * 1e-12, 100.0 * cnt.flop / t_gpu / fp32);
    std::printf("    minimum bytes %.3g -> %.1f GB/s = %.1f%% of the copy-bandwidth ceiling\n", cnt.bytes,
                cnt.bytes / t_gpu * 1e-9, 100.0 * cnt.bytes / t_gpu / bw);
    std::printf("    (includes set-up on the host, the theory line's covariance and Eq. 5 solves)\n");

    // CPU backend, all cores, one run per core (as `dynshare sweep` runs them).
    SimConfig cpu_cfg = base;
    cpu_cfg.run.presentations = std::min(cpu_presentations, presentations);
    auto cpu = make_cpu_backend();
    const auto t1 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < cpu_runs; ++i) {
        SimConfig c = cpu_cfg;
        c.run.seed = static_cast<uint64_t>(i);
        LastRecord o;
        make_cpu_backend()->run(c, make_plan(c), {}, o, nullptr);
    }
    const double t_cpu_sample = seconds_since(t1);
    const double t_cpu = t_cpu_sample * (double(runs) / double(cpu_runs)) *
                         (double(presentations) / double(cpu_cfg.run.presentations));
    std::printf("    CPU backend, %d threads: %lld runs x %lld presentations in %.2f s -> %.1f s for the batch "
                "(scaled); speed-up %.1fx\n",
                threads, (long long)cpu_runs, (long long)cpu_cfg.run.presentations, t_cpu_sample, t_cpu,
                t_cpu / t_gpu);
    (void)cpu;

    // --- 3. (b) stacked sleep phase -------------------------------------------
    std::string stack_json = "null";
    try {
        SimConfig sc = load_config(stack_config, {});
        const RunPlan plan = make_plan(sc);
        std::string refused;
        try {
            gpu->check(sc, plan);
        } catch (const UserError& e) {
            refused = e.what();
        }
        if (!refused.empty()) {
            std::printf("(b) stacked sleep phase (%s): not on the device: %s\n", stack_config.c_str(), refused.c_str());
        } else {
            stack_json = "{";
            for (size_t i = 0; i < stack_presentations.size(); ++i) {
                sc.run.presentations = stack_presentations[i];
                sc.run.checkpoint_every = sc.run.presentations;  // (>= 1): none inside the run
                LastRecord o;
                const auto ts = std::chrono::steady_clock::now();
                const RunResult r = gpu->run(sc, plan, {}, o, nullptr);
                const double t = seconds_since(ts);
                std::printf("(b) stacked sleep phase (%s, %d layers), %lld presentations on the device: %.3f s (%s)\n",
                            stack_config.c_str(), plan.num_layers(), (long long)sc.run.presentations, t,
                            r.status == RunStatus::complete ? "complete" : r.status == RunStatus::diverged ? "diverged" : "interrupted");
                stack_json += std::string(i ? ", " : "") + "\"" + std::to_string(sc.run.presentations) +
                              "\": " + std::to_string(t);
            }
            sc.run.presentations = stack_presentations.front();
            LastRecord o;
            const auto tc = std::chrono::steady_clock::now();
            make_cpu_backend()->run(sc, plan, {}, o, nullptr);
            const double t = seconds_since(tc);
            std::printf("    CPU backend, %d threads, %lld presentations: %.3f s\n", threads,
                        (long long)sc.run.presentations, t);
            stack_json += ", \"cpu_" + std::to_string(sc.run.presentations) + "\": " + std::to_string(t) + "}";
        }
    } catch (const std::exception& e) {
        std::printf("(b) stacked sleep phase: %s\n", e.what());
    }

    // --- 4. (c) fp32 against fp64 ----------------------------------------------
    double max_diff = 0.0, mean_diff = 0.0;
    {
        SimConfig c = base;
        c.run.presentations = compare_presentations;
        std::vector<SimConfig> cc(static_cast<size_t>(compare_runs), c);
        for (int64_t i = 0; i < compare_runs; ++i) cc[size_t(i)].run.seed = static_cast<uint64_t>(i);
        std::vector<AllRecords> r32(cc.size()), r64(cc.size());
        std::vector<RunObserver*> p32, p64;
        for (size_t i = 0; i < cc.size(); ++i) {
            p32.push_back(&r32[i]);
            p64.push_back(&r64[i]);
        }
        device_backend(DevicePrecision::fp32)->run_batch(cc, p32, opt);
        device_backend(DevicePrecision::fp64)->run_batch(cc, p64, opt);
        int64_t n = 0;
        for (size_t i = 0; i < cc.size(); ++i)
            for (size_t j = 0; j < std::min(r32[i].values.size(), r64[i].values.size()); ++j) {
                const double d = std::abs(r32[i].values[j] - r64[i].values[j]);
                if (std::isfinite(d)) {
                    max_diff = std::max(max_diff, d);
                    mean_diff += d;
                    ++n;
                }
            }
        mean_diff /= double(std::max<int64_t>(1, n));
        std::printf("(c) fp32 vs fp64 on the device, %lld Fig. 4B runs x %lld presentations: |d(-log SNR_w)| "
                    "max %.3g, mean %.3g over %lld records\n",
                    (long long)compare_runs, (long long)compare_presentations, max_diff, mean_diff, (long long)n);
    }

    // --- 5. (d) a sweep of stacked configs, batched over runs ---------------------
    std::string sweep_json = "null";
    try {
        SimConfig sc = load_config(sweep_config, {});
        sc.run.presentations = sweep_presentations;
        sc.run.checkpoint_every = sweep_presentations;
        std::vector<SimConfig> sw(static_cast<size_t>(sweep_runs), sc);
        for (int64_t i = 0; i < sweep_runs; ++i) {
            sw[size_t(i)].run.seed = static_cast<uint64_t>(i);
            sw[size_t(i)].dynamics.alpha = sc.dynamics.alpha * (1.0 + 0.01 * double(i % 16));
        }
        std::vector<LastRecord> so(sw.size());
        std::vector<RunObserver*> sp;
        for (auto& o : so) sp.push_back(&o);
        const auto tb = std::chrono::steady_clock::now();
        gpu->run_batch(sw, sp, opt);
        const double t_batch = seconds_since(tb);
        const int64_t alone = std::min<int64_t>(8, sweep_runs);
        const auto ta = std::chrono::steady_clock::now();
        for (int64_t i = 0; i < alone; ++i) {
            LastRecord o;
            gpu->run(sw[size_t(i)], make_plan(sw[size_t(i)]), {}, o, nullptr);
        }
        const double t_alone = seconds_since(ta) * double(sweep_runs) / double(alone);
        std::printf("(d) stacked sweep (%s, %lld runs x %lld presentations): batched %.3f s (%.1f runs/s); one after "
                    "another %.3f s (scaled from %lld runs); batching %.1fx\n",
                    sweep_config.c_str(), (long long)sweep_runs, (long long)sweep_presentations, t_batch,
                    double(sweep_runs) / t_batch, t_alone, (long long)alone, t_alone / t_batch);
        sweep_json = "{\"runs\": " + std::to_string(sweep_runs) + ", \"batched_seconds\": " + std::to_string(t_batch) +
                     ", \"one_by_one_seconds_scaled\": " + std::to_string(t_alone) + "}";
    } catch (const std::exception& e) {
        std::printf("(d) stacked sweep: %s\n", e.what());
    }

    if (!json.empty()) {
        std::ofstream f(json);
        f << "{\"copy_bandwidth_Bps\": " << bw << ", \"fp32_flops\": " << fp32 << ", \"runs\": " << runs
          << ", \"presentations\": " << presentations << ", \"precision\": \"" << precision
          << "\", \"gpu_seconds\": " << t_gpu << ", \"flop\": " << cnt.flop << ", \"min_bytes\": " << cnt.bytes
          << ", \"cpu_threads\": " << threads << ", \"cpu_seconds_scaled\": " << t_cpu
          << ", \"speedup\": " << t_cpu / t_gpu << ", \"diverged\": " << diverged
          << ", \"stack_seconds\": " << stack_json << ", \"fp32_fp64_max_diff\": " << max_diff
          << ", \"fp32_fp64_mean_diff\": " << mean_diff << ", \"stack_sweep\": " << sweep_json << "}\n";
    }
    return 0;
}
