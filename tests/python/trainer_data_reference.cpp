// SPDX-License-Identifier: BSD-3-Clause
// The trainer's own data and network sizes for a config, written to files: the
// reference that tests/python/test_authors_table1.py compares
// bench/authors_table1.py's glue against (the authors' training loop, side by side).
//
//   dynshare_trainer_data_reference CONFIG.yaml SEED OUT_DIR [TEST_IMAGES]
//
// Writes OUT_DIR/shape.txt ("n_train n_test c h w", n_test the number written),
// train_images.bin / test_images.bin (uint8, (n, c, h, w), in load_data's order),
// train_labels.bin / test_labels.bin (int64), mean_std.txt (per channel),
// batch.bin (float32: the first 32 training images normalised by BatchMaker,
// no crop) and parameters.txt (the config's network's parameter count).
#include <cstdio>
#include <fstream>
#include <string>

#include <torch/torch.h>

#include "raw_tensor.hpp"  // write_raw, beside this file
#include "trainer/batches.hpp"
#include "trainer/datasets.hpp"
#include "trainer/networks.hpp"
#include "trainer/train_config.hpp"

using namespace dynshare::trainer;

using dynshare::test::write_raw;

int main(int argc, char** argv) {
    if (argc < 4 || argc > 5) {
        std::fprintf(stderr, "usage: %s CONFIG.yaml SEED OUT_DIR [TEST_IMAGES]\n", argv[0]);
        return 2;
    }
    const RunConfig cfg = load_run_config(argv[1], {});
    const uint64_t seed = std::stoull(argv[2]);
    const std::string out = argv[3];
    const int64_t n_test_max = argc > 4 ? std::stoll(argv[4]) : 500;
    const DataSplits d = load_data(cfg.data, seed);
    const int64_t n_test = std::min<int64_t>(n_test_max, d.test.size());
    write_raw(out + "/train_images.bin", d.train.images);
    write_raw(out + "/train_labels.bin", d.train.labels);
    write_raw(out + "/test_images.bin", d.test.images.narrow(0, 0, n_test));
    write_raw(out + "/test_labels.bin", d.test.labels.narrow(0, 0, n_test));
    std::ofstream(out + "/shape.txt") << d.train.size() << ' ' << n_test << ' ' << d.shape.channels << ' '
                                      << d.shape.height << ' ' << d.shape.width << '\n';
    {
        std::ofstream ms(out + "/mean_std.txt");
        ms.precision(9);
        for (size_t c = 0; c < d.mean.size(); ++c) ms << d.mean[c] << ' ' << d.std[c] << '\n';
    }
    const BatchMaker maker(d, cfg.data.padding, cfg.data.flip, torch::Device(torch::kCPU));
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < std::min<int64_t>(32, d.train.size()); ++i) idx.push_back(i);
    write_raw(out + "/batch.bin", maker.make(d.train, idx, nullptr).first);
    const Net net = build_network(cfg.network, d.shape);
    int64_t params = 0;
    for (const auto& p : net->parameters()) params += p.numel();
    std::ofstream(out + "/parameters.txt") << params << '\n';
    return 0;
}
