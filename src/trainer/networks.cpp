// SPDX-License-Identifier: BSD-3-Clause
// Network builders. A LayerFactory hands out spatial layers (Conv2d or
// LocallyConnected2d) while tracking the feature-map size, which LC layers
// need at construction, and which of them the config keeps convolutional.
#include "trainer/networks.hpp"

#include <cmath>

#include "dynshare/errors.hpp"

namespace dynshare::trainer {
namespace {

using torch::nn::AnyModule;

struct FeatureShape {
    int c, h, w;
};

class LayerFactory {
public:
    // With `census`, layers are counted into it and stand-ins (Identity) are
    // returned instead: the same architecture code sizes a network it never builds.
    LayerFactory(const NetworkConfig& cfg, NetImpl& net, NetworkCensus* census = nullptr)
        : cfg_(cfg), net_(net), census_(census) {}

    // A k x k layer from shape `in`; `main_path` layers count towards
    // first_conv_layers, k == 1 layers follow conv_1x1.
    AnyModule spatial(const std::string& name, FeatureShape& in, int c_out, int k, int stride, int padding,
                      bool main_path) {
        LcGeometry g{in.c, in.h, in.w, c_out, k, stride, padding};
        if (g.h_out() < 1 || g.w_out() < 1)
            throw UserError("network: layer " + name + " gets a " + std::to_string(in.h) + "x" +
                            std::to_string(in.w) + " input, too small for its " + std::to_string(k) + "x" +
                            std::to_string(k) + " kernel with stride " + std::to_string(stride) +
                            "; use a larger input (data.canvas) or a shallower network");
        const bool conv = cfg_.connectivity == Connect::conv || (k == 1 && cfg_.conv_1x1) ||
                          (main_path && main_index_ < cfg_.first_conv_layers);
        if (main_path) ++main_index_;
        in = FeatureShape{c_out, g.h_out(), g.w_out()};
        const bool bias = !cfg_.batch_norm;
        if (census_) {
            count(g, conv, bias, main_path);
            return AnyModule(torch::nn::Identity());
        }
        const bool authors = cfg_.init == InitKind::authors;
        if (conv) {
            torch::nn::Conv2d layer(torch::nn::Conv2dOptions(g.c_in, c_out, k).stride(stride).padding(padding).bias(bias));
            // The authors' ResNets: kaiming_normal_(mode='fan_out', nonlinearity='relu')
            // on every Conv2d (stem and 1x1 shortcuts included); bias, if any, torch's.
            if (authors) {
                torch::NoGradGuard no_grad;
                layer->weight.normal_(0.0, std::sqrt(2.0 / (double(c_out) * k * k)));
            }
            return AnyModule(layer);
        }
        LocallyConnected2d lc(LocallyConnected2dOptions{g, bias});
        lc->algorithm = cfg_.lc_algorithm;
        if (authors) lc->authors_init(cfg_.conv_init_eps);
        else if (cfg_.conv_init_eps >= 0) lc->conv_init(cfg_.conv_init_eps);
        net_.lc_.push_back(LcLayerRef{name, lc, main_path});
        return AnyModule(lc);
    }

    AnyModule norm(int channels) const {
        if (census_) {
            if (cfg_.batch_norm) census_->parameters += 2 * int64_t(channels);
            return AnyModule(torch::nn::Identity());
        }
        if (cfg_.batch_norm) return AnyModule(torch::nn::BatchNorm2d(channels));
        return AnyModule(torch::nn::Identity());
    }

private:
    void count(const LcGeometry& g, bool conv, bool bias, bool main_path) {
        const int64_t positions = int64_t(g.h_out()) * g.w_out(), out = int64_t(g.c_out) * positions;
        census_->parameters += conv ? int64_t(g.c_out) * g.fan_in() + (bias ? g.c_out : 0)
                                    : out * g.fan_in() + (bias ? out : 0);
        census_->activations += out;
        census_->largest_activation = std::max(census_->largest_activation, out);
        if (conv) return;
        census_->lc_weights += out * g.fan_in();
        census_->lc_patches += positions * g.fan_in();
        census_->largest_lc_product = std::max(census_->largest_lc_product, out * g.fan_in());
        if (main_path) census_->main_lc.push_back(g);
    }

    const NetworkConfig& cfg_;
    NetImpl& net_;
    NetworkCensus* census_;
    int main_index_ = 0;
};

// layer -> norm -> ReLU (the stem and the small networks' layers).
struct ConvUnitImpl : torch::nn::Module {
    ConvUnitImpl(AnyModule layer, AnyModule bn) : layer_(std::move(layer)), bn_(std::move(bn)) {
        register_module("layer", layer_.ptr());
        register_module("bn", bn_.ptr());
    }
    torch::Tensor forward(torch::Tensor x) { return torch::relu(bn_.forward(layer_.forward(x))); }
    AnyModule layer_, bn_;
};
TORCH_MODULE(ConvUnit);

// The basic residual block; the shortcut is a 1x1 layer (option B) when the
// shape changes.
struct BasicBlockImpl : torch::nn::Module {
    BasicBlockImpl(LayerFactory& f, const std::string& name, FeatureShape& s, int c_out, int stride) {
        FeatureShape in = s;
        conv1_ = f.spatial(name + ".conv1", s, c_out, 3, stride, 1, true);
        bn1_ = f.norm(c_out);
        conv2_ = f.spatial(name + ".conv2", s, c_out, 3, 1, 1, true);
        bn2_ = f.norm(c_out);
        register_module("conv1", conv1_.ptr());
        register_module("bn1", bn1_.ptr());
        register_module("conv2", conv2_.ptr());
        register_module("bn2", bn2_.ptr());
        if (stride != 1 || in.c != c_out) {
            shortcut_ = f.spatial(name + ".shortcut", in, c_out, 1, stride, 0, false);
            bn_sc_ = f.norm(c_out);
            register_module("shortcut", shortcut_.ptr());
            register_module("bn_shortcut", bn_sc_.ptr());
        }
    }
    torch::Tensor forward(torch::Tensor x) {
        auto out = torch::relu(bn1_.forward(conv1_.forward(x)));
        out = bn2_.forward(conv2_.forward(out));
        auto sc = shortcut_.is_empty() ? x : bn_sc_.forward(shortcut_.forward(x));
        return torch::relu(out + sc);
    }
    AnyModule conv1_, bn1_, conv2_, bn2_, shortcut_, bn_sc_;
};
TORCH_MODULE(BasicBlock);

void add_stage(NetImpl& net, AnyModule m) {
    net.stages_.push_back(std::move(m));
    net.register_module("stage" + std::to_string(net.stages_.size() - 1), net.stages_.back().ptr());
}

void build_resnet(NetImpl& net, LayerFactory& f, FeatureShape& s, const std::vector<int>& blocks, int width,
                  bool imagenet_stem) {
    if (imagenet_stem) {
        add_stage(net, AnyModule(ConvUnit(f.spatial("stem", s, width, 7, 2, 3, true), f.norm(width))));
        add_stage(net, AnyModule(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1))));
        s = FeatureShape{s.c, (s.h - 1) / 2 + 1, (s.w - 1) / 2 + 1};
    } else {
        add_stage(net, AnyModule(ConvUnit(f.spatial("stem", s, width, 3, 1, 1, true), f.norm(width))));
    }
    for (size_t stage = 0; stage < blocks.size(); ++stage) {
        const int c = width << stage;
        for (int b = 0; b < blocks[stage]; ++b) {
            const int stride = (stage > 0 && b == 0) ? 2 : 1;
            const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
            add_stage(net, AnyModule(BasicBlock(f, name, s, c, stride)));
        }
    }
}

// depth layers; channels width, 2 width, 4 width, 4 width, ...; stride 2 in
// layers 2 and 3 (28x28 -> 7x7 for Fashion-MNIST).
void build_small(NetImpl& net, LayerFactory& f, FeatureShape& s, const NetworkConfig& cfg) {
    for (int i = 0; i < cfg.depth; ++i) {
        const int c = cfg.width << std::min(i, 2);
        const int stride = (i == 1 || i == 2) ? 2 : 1;
        auto layer = f.spatial("layer" + std::to_string(i), s, c, cfg.kernel, stride, cfg.kernel / 2, true);
        add_stage(net, AnyModule(ConvUnit(std::move(layer), f.norm(c))));
    }
}

std::string make_signature(const NetworkConfig& c, const InputShape& in) {
    return std::string("arch=") + to_string(c.arch) + " connectivity=" + to_string(c.connectivity) +
           " width=" + std::to_string(c.width) + " depth=" + std::to_string(c.depth) +
           " kernel=" + std::to_string(c.kernel) + " first_conv_layers=" + std::to_string(c.first_conv_layers) +
           " conv_1x1=" + std::to_string(c.conv_1x1) + " batch_norm=" + std::to_string(c.batch_norm) +
           " input=" + std::to_string(in.channels) + "x" + std::to_string(in.height) + "x" +
           std::to_string(in.width) + " classes=" + std::to_string(in.classes);
}

// The stages of `net` (real layers, or stand-ins counted into `census`);
// returns the final feature shape.
FeatureShape build_stages(const NetworkConfig& cfg, const InputShape& input, NetImpl& net, NetworkCensus* census) {
    LayerFactory f(cfg, net, census);
    FeatureShape s{input.channels, input.height, input.width};
    switch (cfg.arch) {
    case Arch::resnet20: build_resnet(net, f, s, {3, 3, 3}, cfg.width, false); break;
    case Arch::resnet18: build_resnet(net, f, s, {2, 2, 2, 2}, cfg.width, input.height >= 64); break;
    case Arch::small: build_small(net, f, s, cfg); break;
    }
    return s;
}

}  // namespace

torch::Tensor NetImpl::forward(torch::Tensor x) {
    for (auto& m : stages_) x = m.forward(x);
    x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    return fc_->forward(x);
}

Net build_network(const NetworkConfig& cfg, const InputShape& input) {
    Net net;
    const FeatureShape s = build_stages(cfg, input, *net, nullptr);
    net->fc_ = net->register_module("fc", torch::nn::Linear(s.c, input.classes));
    net->signature_ = make_signature(cfg, input);
    return net;
}

NetworkCensus census_network(const NetworkConfig& cfg, const InputShape& input) {
    NetworkCensus census;
    NetImpl stand_in;
    const FeatureShape s = build_stages(cfg, input, stand_in, &census);
    census.parameters += int64_t(s.c) * input.classes + input.classes;  // fc
    return census;
}

}  // namespace dynshare::trainer
