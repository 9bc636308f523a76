// SPDX-License-Identifier: BSD-3-Clause
// One simulated sleep phase on a trained network's weights (issue 32, item 2):
// loads RUN_DIR/checkpoint.pt of an LC run, applies one phase as CONFIG
// (with --set overrides, e.g. sharing.presentations_per_fan_in=2.5) asks,
// and prints per LC layer its fan-in, the presentations the rule gives it,
// -log SNR_w before and after and the drop, and the phase's seconds. The
// checkpoint is only read.
//
//   bench_sleep_trained CONFIG RUN_DIR [--set key=value ...]
#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "dynshare/errors.hpp"
#include "trainer/checkpoint.hpp"
#include "trainer/networks.hpp"
#include "trainer/sharing.hpp"
#include "trainer/train_config.hpp"

using namespace dynshare;
using namespace dynshare::trainer;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_sleep_trained CONFIG RUN_DIR [--set key=value ...]\n");
        return 2;
    }
    try {
        std::vector<std::pair<std::string, std::string>> sets;
        for (int i = 3; i + 1 < argc; i += 2) {
            const std::string kv = argv[i + 1];
            const auto eq = kv.find('=');
            if (std::string(argv[i]) != "--set" || eq == std::string::npos)
                throw UserError(std::string("expected --set key=value, got ") + argv[i] + " " + kv);
            sets.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        }
        const RunConfig cfg = load_run_config(argv[1], sets);
        if (cfg.sharing.mode != SharingMode::simulated) throw UserError("sharing.mode: expected simulated");
        torch::set_num_threads(cfg.train.threads > 0 ? cfg.train.threads : 1);
        const int size = cfg.data.canvas > 0 ? cfg.data.canvas : 28;  // Fashion-MNIST
        Net net = build_network(cfg.network, InputShape{1, size, size, 10});
        torch::optim::AdamW opt(net->parameters());
        load_checkpoint(std::string(argv[2]) + "/checkpoint.pt", net, opt, torch::Device(torch::kCPU));
        std::vector<LcGeometry> geo;
        for (size_t i : sleep_chain(net)) geo.push_back(net->lc_layers()[i].layer->geometry());
        const auto per_layer = layer_presentations(cfg.sharing, geo);
        const SleepRecord r = apply_sharing(cfg, net, 1);
        std::printf("phase of %lld presentations: %.2f s\n",
                    static_cast<long long>(phase_presentations(cfg.sharing, geo)), r.seconds);
        std::printf("layer fan_in rule  -logSNR_before -logSNR_after drop\n");
        for (size_t l = 0; l < r.snr_before.size(); ++l)
            std::printf("%5zu %6d %5lld %14.3f %13.3f %5.2f\n", l, geo[l].fan_in(),
                        static_cast<long long>(per_layer[l]), r.snr_before[l], r.snr_after[l],
                        r.snr_before[l] - r.snr_after[l]);
        return 0;
    } catch (const UserError& e) {
        std::fprintf(stderr, "bench_sleep_trained: %s\n", e.what());
        return 2;
    }
}
