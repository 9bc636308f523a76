// SPDX-License-Identifier: BSD-3-Clause
// The training memory estimate. Every term is counted in bytes as the sum of
// what the code allocates at its peak, not fitted: see each comment. The
// test (tests/trainer/test_memory.cpp) compares the total with the peak
// resident memory of real runs.
#include "trainer/memory_estimate.hpp"

#include <algorithm>
#include <cstdio>

#include "io/output_file.hpp"
#include "trainer/networks.hpp"
#include "trainer/sharing.hpp"

namespace dynshare::trainer {
namespace {

constexpr long double kFloat = 4;

std::string bytes_text(long double b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", static_cast<double>(b));
    return buf;
}

}  // namespace

TrainMemory estimate_train_memory(const RunConfig& cfg, const DataCensus& data, int world, int ranks_here) {
    TrainMemory m;
    const NetworkCensus net = census_network(cfg.network, data.shape);
    // The process: LibTorch's libraries, allocator arenas and thread pools
    // (about 0.16 GB resident for `dynshare train --help` with a CUDA-enabled
    // LibTorch, less without).
    m.process = 200e6L;
    // Loading (datasets.cpp): the decompressed files, their tensors (one copy
    // each), the canvas copies, the train/validation subset copies, and one
    // float copy of the training images for the normalisation statistics.
    const long double pixels = static_cast<long double>(data.shape.channels) * data.shape.height * data.shape.width;
    const long double train_px = pixels * data.train_images, test_px = pixels * data.test_images;
    m.data = 2 * static_cast<long double>(data.file_bytes) + 2 * (train_px + test_px) + kFloat * train_px;
    m.data_held = train_px + test_px;
    // The model: weights, their gradients and AdamW's two moment estimates;
    // the LC weights once more (the initial weights of the Hebbian pull, the
    // module-mean gradients, or a checkpoint's copy).
    m.model = kFloat * (4 * static_cast<long double>(net.parameters) + static_cast<long double>(net.lc_weights));
    // One iteration: every spatial layer's output, its batch-norm output and
    // its ReLU output are kept for the backward pass, and the backward makes
    // a gradient of each (4 tensors per layer output); the input batch and its
    // float crops. patches_bmm (automatic on CUDA) also keeps each LC layer's
    // (L, B, fan_in) patches for the weight gradient. A layer's patch gradient
    // lives only while the backward is at that layer, when the later layers'
    // outputs and gradients are freed, so the fourth tensor per output covers
    // it: counting it as well put the estimate at 1.5x the measured peak
    // (small net, width 32, batch 256; per image the peak grows by 0.76 MB,
    // 0.12 MB more than cache_kernel's). naive makes the
    // (B, c_out, L, fan_in) product of the largest LC layer and its gradient.
    const int images = cfg.train.batch_size * (cfg.data.repetition_batch == RepetitionBatch::grow ? cfg.data.repetitions : 1);
    const long double per_rank = static_cast<long double>(images) / std::max(world, 1);
    long double per_image = 4 * static_cast<long double>(net.activations) + 3 * pixels;
    const bool cuda = cfg.train.device == "cuda";
    const LcAlgorithm algo = cfg.network.lc_algorithm == LcAlgorithm::automatic
                                 ? (cuda ? LcAlgorithm::patches_bmm : LcAlgorithm::cache_kernel)
                                 : cfg.network.lc_algorithm;
    if (algo == LcAlgorithm::patches_bmm)
        per_image += static_cast<long double>(net.lc_patches);
    if (algo == LcAlgorithm::naive) per_image += 2 * static_cast<long double>(net.largest_lc_product);
    // An evaluation batch: no graph, the largest output twice (in and out).
    const long double eval = kFloat * cfg.train.eval_batch_size * (2 * static_cast<long double>(net.largest_activation) + pixels);
    m.activations = std::max(kFloat * per_rank * per_image, eval);
    // The sharing phase.
    switch (cfg.sharing.mode) {
    case SharingMode::simulated: {
        std::vector<LcGeometry> chain;
        for (size_t i : longest_chain(net.main_lc)) chain.push_back(net.main_lc[i]);
        m.sleep = static_cast<long double>(sleep_memory_bytes(cfg, chain));
        break;
    }
    case SharingMode::hebbian:
    case SharingMode::hebbian_authors:
        // The (c_out, L, fan_in) Hebbian term and the weights before the phase.
        m.sleep = 2 * kFloat * static_cast<long double>(net.lc_weights);
        break;
    default: break;
    }
    if (cuda) m.model = m.activations = 0;  // device memory, not the host's
    // Several ranks on one machine each hold all of it.
    const long double here = std::max(ranks_here, 1);
    m.process *= here, m.data *= here, m.data_held *= here, m.model *= here, m.activations *= here, m.sleep *= here;

    const auto& n = cfg.network;
    const long double biggest = std::max({m.data, m.model, m.activations, m.sleep});
    if (biggest == m.model)
        m.largest = "network.width = " + std::to_string(n.width) + " (arch " + to_string(n.arch) + ", " +
                    to_string(n.connectivity) + ", " + bytes_text(static_cast<long double>(net.parameters)) +
                    " parameters: " + bytes_text(m.model) + " bytes with gradients and AdamW state)";
    else if (biggest == m.activations)
        m.largest = "train.batch_size = " + std::to_string(cfg.train.batch_size) +
                    (images != cfg.train.batch_size ? " (x data.repetitions = " + std::to_string(cfg.data.repetitions) + ")" : "") +
                    " (" + bytes_text(m.activations) + " bytes of activations per iteration)";
    else if (biggest == m.sleep)
        m.largest = std::string("sharing.mode = ") + to_string(cfg.sharing.mode) + " (" + bytes_text(m.sleep) + " bytes for the sharing phase)";
    else
        m.largest = "data.path " + cfg.data.path + " (" + std::to_string(data.train_images + data.test_images) +
                    " images of " + std::to_string(data.shape.channels) + "x" + std::to_string(data.shape.height) + "x" +
                    std::to_string(data.shape.width) + ": " + bytes_text(m.data) + " bytes while loading)";
    return m;
}

void check_train_memory(const RunConfig& cfg, const DataCensus& data, int world, int ranks_here) {
    const TrainMemory m = estimate_train_memory(cfg, data, world, ranks_here);
    const long double total = m.total();
    check_memory(total > 9e18L ? static_cast<long long>(9e18) : static_cast<long long>(total), m.largest);
}

}  // namespace dynshare::trainer
