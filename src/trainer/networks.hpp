// SPDX-License-Identifier: BSD-3-Clause
// The trainer's networks: CIFAR ResNet-20, ResNet-18 (width parameter) and
// small stacks of 1-6 layers, each with convolutional or locally connected
// spatial layers. The network lists its LC layers in forward order so that
// sharing regularisers and the sleep phase can reach their weights.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "trainer/locally_connected.hpp"
#include "trainer/train_config.hpp"

namespace dynshare::trainer {

struct InputShape {
    int channels = 1, height = 28, width = 28, classes = 10;
};

struct LcLayerRef {
    std::string name;
    LocallyConnected2d layer;
    bool main_path = true;  // false for 1x1 shortcut layers
};

class NetImpl : public torch::nn::Module {
public:
    torch::Tensor forward(torch::Tensor x);

    const std::vector<LcLayerRef>& lc_layers() const { return lc_; }
    // Identifies the architecture (and input) for checkpoint compatibility.
    const std::string& signature() const { return signature_; }

    // Filled by the builder in networks.cpp.
    std::vector<torch::nn::AnyModule> stages_;
    torch::nn::Linear fc_{nullptr};
    std::vector<LcLayerRef> lc_;
    std::string signature_;
};
TORCH_MODULE(Net);

// Throws UserError when the layer shapes do not fit the input size.
Net build_network(const NetworkConfig& cfg, const InputShape& input);

// The network's sizes without allocating it, from the same builder code
// (each layer counted instead of constructed): what the memory estimate
// (memory_estimate.hpp) needs before anything is created. Counts are
// elements; "per image" counts scale with the batch.
struct NetworkCensus {
    int64_t parameters = 0;          // every weight and bias (== the built net's numel, tested)
    int64_t lc_weights = 0;          // of the LC layers
    int64_t activations = 0;         // per image: outputs of all spatial layers
    int64_t largest_activation = 0;  // per image: the largest one
    int64_t lc_patches = 0;          // per image: sum over LC layers of h_out w_out fan_in (patches_bmm keeps them)
    int64_t largest_lc_product = 0;  // per image: max over LC layers of c_out h_out w_out fan_in (naive)
    std::vector<LcGeometry> main_lc; // main-path LC layers in forward order (the sleep chain is a run of them)
};
NetworkCensus census_network(const NetworkConfig& cfg, const InputShape& input);

}  // namespace dynshare::trainer
