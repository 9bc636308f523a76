// SPDX-License-Identifier: BSD-3-Clause
// The trainer's own simulated sleep phase on a small LC network, written to
// files: the reference that tests/python/test_sleep_phase.py compares
// dynshare.sleep_phase against (same weights, seed and phase).
//
//   dynshare_trainer_sleep_reference OUT_DIR WIDTH PRESENTATIONS SEED PHASE [SIZE [REPEATS]]
//
// SIZE: the input's height and width (default 10). REPEATS > 0 (the
// benchmark bench/python_overhead.py): afterwards the phase runs REPEATS more
// times from the same "before" weights, and the wall time of each
// apply_sharing (SNRs included) is printed as "seconds T threads N", N the
// OpenMP threads it ran on.
//
// Writes OUT_DIR/geometry.txt (one line per LC layer of the sleep chain:
// c_in h_in w_in c_out k stride padding), before_<l>.bin and after_<l>.bin
// (the layer's float32 weight tensor, raw, (c_out, h_out, w_out, c_in k^2))
// and snr.txt (one line per layer: -log SNR_w before and after, %.17g).
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include <torch/torch.h>

#include "raw_tensor.hpp"  // write_raw, beside this file
#include "trainer/networks.hpp"
#include "trainer/sharing.hpp"
#include "trainer/train_config.hpp"

using namespace dynshare;
using namespace dynshare::trainer;

using dynshare::test::write_raw;

int main(int argc, char** argv) {
    if (argc < 6 || argc > 8) {
        std::fprintf(stderr, "usage: %s OUT_DIR WIDTH PRESENTATIONS SEED PHASE [SIZE [REPEATS]]\n", argv[0]);
        return 2;
    }
    const std::string out = argv[1];
    RunConfig cfg;  // sleep: the trainer's defaults (sleep_phase_defaults)
    cfg.network.arch = Arch::small;
    cfg.network.depth = 2;
    cfg.network.width = std::stoi(argv[2]);
    cfg.network.conv_init_eps = 0.3;
    cfg.sharing.mode = SharingMode::simulated;
    cfg.sharing.presentations = std::stoll(argv[3]);
    cfg.train.seed = std::stoull(argv[4]);
    const uint64_t phase = std::stoull(argv[5]);
    const int size = argc > 6 ? std::stoi(argv[6]) : 10;
    const int repeats = argc > 7 ? std::stoi(argv[7]) : 0;
    torch::manual_seed(11);
    Net net = build_network(cfg.network, InputShape{1, size, size, 10});
    const std::vector<size_t> chain = sleep_chain(net);
    std::ofstream geo(out + "/geometry.txt");
    for (size_t n = 0; n < chain.size(); ++n) {
        const auto& layer = net->lc_layers()[chain[n]].layer;
        const LcGeometry& g = layer->geometry();
        geo << g.c_in << ' ' << g.h_in << ' ' << g.w_in << ' ' << g.c_out << ' ' << g.k << ' ' << g.stride << ' '
            << g.padding << '\n';
        write_raw(out + "/before_" + std::to_string(n) + ".bin", layer->weight);
    }
    geo.close();
    std::vector<torch::Tensor> saved;
    for (size_t i : chain) saved.push_back(net->lc_layers()[i].layer->weight.detach().clone());
    const SleepRecord r = apply_sharing(cfg, net, phase);
    FILE* snr = std::fopen((out + "/snr.txt").c_str(), "w");
    for (size_t n = 0; n < chain.size(); ++n) {
        write_raw(out + "/after_" + std::to_string(n) + ".bin", net->lc_layers()[chain[n]].layer->weight);
        std::fprintf(snr, "%.17g %.17g\n", r.snr_before[n], r.snr_after[n]);
    }
    std::fclose(snr);
    for (int rep = 0; rep < repeats; ++rep) {
        {
            torch::NoGradGuard no_grad;
            for (size_t n = 0; n < chain.size(); ++n) net->lc_layers()[chain[n]].layer->weight.copy_(saved[n]);
        }
        const auto t0 = std::chrono::steady_clock::now();
        apply_sharing(cfg, net, phase);
        // The OpenMP threads the phase ran on (LibTorch sets its own count).
        std::printf("seconds %.6f threads %d\n",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                    omp_get_max_threads());
    }
    return 0;
}
