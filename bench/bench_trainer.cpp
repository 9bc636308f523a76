// SPDX-License-Identifier: BSD-3-Clause
// Trainer benchmark: time per training iteration (forward + backward +
// AdamW step) of LC ResNet-20 on CIFAR-sized input, with each of the LC
// layer's algorithms (the CPU cache kernel, patches + batched matmul, and a
// plain unfold-and-multiply layer),
// same threads, plus the peak resident memory of each (each variant runs
// in its own process so VmHWM is its own), and the cost of one simulated
// sleep phase relative to one training epoch.
//
//   bench_trainer [--batch 128] [--iters 5] [--threads 2] [--presentations 100]
//                 [--device cpu|cuda] [--variant kernel|bmm|naive|sleep]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "trainer/lc_gemm.hpp"
#include "trainer/networks.hpp"
#include "trainer/sharing.hpp"

using namespace dynshare::trainer;

namespace {

struct Options {
    int batch = 128, iters = 5, threads = 2;
    int64_t presentations = 100;
    std::string device = "cpu", variant;
};

double peak_rss_mib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    return -1;
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

NetworkConfig resnet20_lc() {
    NetworkConfig n;
    n.arch = Arch::resnet20;
    n.connectivity = Connect::lc;
    n.width = 16;
    return n;
}

LcAlgorithm algorithm_of(const std::string& variant) {
    if (variant == "naive") return LcAlgorithm::naive;
    if (variant == "bmm") return LcAlgorithm::patches_bmm;
    if (variant == "kernel") return LcAlgorithm::cache_kernel;
    return LcAlgorithm::automatic;
}

// One variant in this process: prints "seconds_per_iter peak_mib".
int run_variant(const Options& o) {
    torch::set_num_threads(o.threads);
    torch::manual_seed(0);
    torch::Device dev(o.device == "cuda" ? torch::kCUDA : torch::kCPU);
    Net net = build_network(resnet20_lc(), InputShape{3, 32, 32, 10});
    for (auto& l : net->lc_layers()) l.layer.ptr()->algorithm = algorithm_of(o.variant);
    net->to(dev);
    torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(1e-3));
    auto x = torch::randn({o.batch, 3, 32, 32}).to(dev);
    auto y = torch::randint(0, 10, {o.batch}, torch::kLong).to(dev);
    if (dev.is_cuda()) torch::cuda::synchronize();
    double best = 1e30;
    for (int i = 0; i < o.iters + 1; ++i) {  // the first iteration warms up
        const double t0 = now();
        opt.zero_grad();
        torch::nn::functional::cross_entropy(net->forward(x), y).backward();
        opt.step();
        if (dev.is_cuda()) torch::cuda::synchronize();
        if (i > 0) best = std::min(best, now() - t0);
    }
    std::printf("%.6f %.1f\n", best, peak_rss_mib());
    return 0;
}

// One simulated sleep phase on the LC ResNet-20 chain: prints seconds.
int run_sleep(const Options& o) {
    torch::set_num_threads(o.threads);
    RunConfig cfg;
    cfg.network = resnet20_lc();
    cfg.sharing.mode = SharingMode::simulated;
    cfg.sharing.presentations = o.presentations;
    Net net = build_network(cfg.network, InputShape{3, 32, 32, 10});
    const double t0 = now();
    run_simulated_sleep(cfg, net, sleep_chain(net), 0);
    std::printf("%.6f\n", now() - t0);
    return 0;
}

std::string child(const Options& o, const std::string& variant) {
    std::ostringstream cmd;
    cmd << "/proc/" << getpid() << "/exe --variant " << variant << " --batch " << o.batch << " --iters " << o.iters
        << " --threads " << o.threads << " --presentations " << o.presentations << " --device " << o.device;
    FILE* p = popen(cmd.str().c_str(), "r");
    if (!p) return "";
    char buf[256] = {0};
    std::string out;
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    const char* usage =
        "usage: bench_trainer [--batch 128] [--iters 5] [--threads 2] [--presentations 100]\n"
        "                     [--device cpu|cuda] [--variant kernel|bmm|naive|sleep]\n";
    for (int i = 1; i < argc; i += 2) {
        const std::string k = argv[i];
        if (k == "--help" || k == "-h") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "bench_trainer: option %s needs a value\n%s", k.c_str(), usage);
            return 2;
        }
        const std::string v = argv[i + 1];
        // A positive integer, or exit status 2 naming the option.
        auto count = [&]() -> int64_t {
            char* end = nullptr;
            const long long x = std::strtoll(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || x <= 0 || x > (1LL << 30)) {
                std::fprintf(stderr, "bench_trainer: %s %s: expected a positive integer\n", k.c_str(), v.c_str());
                std::exit(2);
            }
            return x;
        };
        if (k == "--batch") o.batch = int(count());
        else if (k == "--iters") o.iters = int(count());
        else if (k == "--threads") o.threads = int(count());
        else if (k == "--presentations") o.presentations = count();
        else if (k == "--device") o.device = v;
        else if (k == "--variant") o.variant = v;
        else {
            std::fprintf(stderr, "bench_trainer: unknown option %s\n%s", k.c_str(), usage);
            return 2;
        }
    }
    if (o.device != "cpu" && o.device != "cuda") {
        std::fprintf(stderr, "bench_trainer: --device %s: allowed values are cpu and cuda\n", o.device.c_str());
        return 2;
    }
    if (!o.variant.empty() && o.variant != "kernel" && o.variant != "bmm" && o.variant != "naive" &&
        o.variant != "sleep") {
        std::fprintf(stderr, "bench_trainer: --variant %s: allowed values are kernel, bmm, naive and sleep\n",
                     o.variant.c_str());
        return 2;
    }
    if (o.variant == "sleep") return run_sleep(o);
    if (!o.variant.empty()) return run_variant(o);

    double t_kernel = 0, m_kernel = 0, t_bmm = 0, m_bmm = 0, t_naive = 0, m_naive = 0, t_sleep = 0;
    const bool cpu = o.device == "cpu";
    if (cpu) std::istringstream(child(o, "kernel")) >> t_kernel >> m_kernel;
    std::istringstream(child(o, "bmm")) >> t_bmm >> m_bmm;
    std::istringstream(child(o, "naive")) >> t_naive >> m_naive;
    std::istringstream(child(o, "sleep")) >> t_sleep;
    const double t_best = cpu ? t_kernel : t_bmm, m_best = cpu ? m_kernel : m_bmm;
    const double epoch = t_best * std::ceil(50000.0 / o.batch);
    std::printf("bench_trainer: LC ResNet-20, 3x32x32 input, batch %d, %d threads, device %s, best of %d iterations\n",
                o.batch, o.threads, o.device.c_str(), o.iters);
    if (cpu)
        std::printf("  cache-kernel LC   : %8.3f s/iteration  peak RSS %8.1f MiB  (form %s; DYNSHARE_LC_KERNEL picks)\n",
                    t_kernel, m_kernel, to_string(lc_isa()));
    std::printf("  patches + bmm LC  : %8.3f s/iteration  peak RSS %8.1f MiB\n", t_bmm, m_bmm);
    std::printf("  unfold-multiply LC: %8.3f s/iteration  peak RSS %8.1f MiB\n", t_naive, m_naive);
    std::printf("  %s vs unfold-multiply: speed-up %.2fx, memory ratio %.2f\n", cpu ? "cache kernel" : "bmm",
                t_naive / t_best, m_best / m_naive);
    if (cpu) std::printf("  cache kernel vs patches + bmm: speed-up %.2fx, memory ratio %.2f\n", t_bmm / t_kernel,
                         m_kernel / m_bmm);
    std::printf("  one epoch (50000 images) ~ %.1f s; one simulated sleep phase (%lld presentations): %.3f s = %.4f epochs\n",
                epoch, static_cast<long long>(o.presentations), t_sleep, t_sleep / epoch);
    return 0;
}
