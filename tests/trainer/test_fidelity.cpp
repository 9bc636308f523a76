// SPDX-License-Identifier: BSD-3-Clause
// Issue 13: the trainer against the authors' implementation
// (romanpogodin/towards-bio-plausible-conv): initialisation, full modules
// (LC + instant sharing over all positions = Conv2d), the authors' SNR and
// Hebbian sharing, the sharing counter, repetition batches, BN re-estimation.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "dynshare/errors.hpp"
#include "dynshare/snr.hpp"
#include "test_helpers.hpp"
#include "trainer/batches.hpp"
#include "trainer/networks.hpp"
#include "trainer/sharing.hpp"
#include "trainer/trainer.hpp"

using namespace dynshare;
using namespace dynshare::trainer;
namespace t = dynshare::trainer::testing;

namespace {

// Relative tolerance of a sample std of n independent normal draws: its
// standard error is sigma / sqrt(2 n); 6 standard errors.
double std_tol(int64_t n) { return 6.0 / std::sqrt(2.0 * double(n)); }

double sample_std(const torch::Tensor& w) { return w.detach().to(torch::kDouble).std().item<double>(); }

NetworkConfig resnet_cfg(Connect c) {
    NetworkConfig n;
    n.arch = Arch::resnet20;
    n.connectivity = c;
    n.width = 8;
    return n;
}

}  // namespace

TEST(Init, AuthorsHeNormalFanOutInEveryLayer) {
    torch::manual_seed(1);
    for (Connect c : {Connect::conv, Connect::lc}) {
        Net net = build_network(resnet_cfg(c), InputShape{3, 16, 16, 10});
        int layers = 0;
        for (const auto& m : net->modules(false)) {
            if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(m.get())) {
                const auto& o = conv->options;
                const int64_t k = (*o.kernel_size())[0], c_out = o.out_channels();
                const double sd = std::sqrt(2.0 / double(c_out * k * k));
                EXPECT_NEAR(sample_std(conv->weight) / sd, 1.0, std_tol(conv->weight.numel())) << "conv " << k;
                EXPECT_NEAR(conv->weight.mean().item<double>(), 0.0, 6 * sd / std::sqrt(double(conv->weight.numel())));
                ++layers;
            } else if (auto* lc = dynamic_cast<LocallyConnected2dImpl*>(m.get())) {
                const auto& g = lc->geometry();
                const double sd = std::sqrt(2.0 / double(g.c_out * g.k * g.k));
                EXPECT_NEAR(sample_std(lc->weight) / sd, 1.0, std_tol(lc->weight.numel())) << "lc " << g.k;
                EXPECT_FALSE(lc->bias.defined());  // batch norm: no LC bias, as the authors'
                ++layers;
            }
        }
        EXPECT_EQ(layers, 21);  // stem + 18 + 2 shortcuts
    }
}

TEST(Init, AuthorsConvInitScalesByOneOverSqrtOnePlusEpsSquared) {
    torch::manual_seed(2);
    LcGeometry g{16, 12, 12, 32, 3, 1, 1};
    const double sd = std::sqrt(2.0 / (32.0 * 9));
    for (double eps : {0.0, 0.5, 2.0}) {
        LocallyConnected2d lc(LocallyConnected2dOptions{g, false});
        lc->authors_init(eps);
        // The shared kernel has c_out * fan_in draws, the noise all of them:
        // the shared part's count bounds the tolerance.
        EXPECT_NEAR(sample_std(lc->weight) / sd, 1.0, std_tol(int64_t(g.c_out) * g.fan_in())) << eps;
        // Across positions only the noise varies: std eps * sd / sqrt(1 + eps^2).
        const double across = lc->weight.to(torch::kDouble).std(2).mean().item<double>();  // over x positions
        const double expect = eps * sd / std::sqrt(1 + eps * eps);
        EXPECT_NEAR(across, expect, eps == 0 ? 1e-12 : 0.05 * expect) << eps;
    }
}

TEST(Init, TorchDefaultKeepsTheUniformInit) {
    torch::manual_seed(3);
    NetworkConfig n = resnet_cfg(Connect::lc);
    n.init = InitKind::torch_default;
    Net net = build_network(n, InputShape{3, 16, 16, 10});
    for (const auto& l : net->lc_layers()) {
        const auto& g = l.layer->geometry();
        const double bound = 1.0 / std::sqrt(double(g.fan_in()));
        EXPECT_LE(l.layer->weight.abs().max().item<double>(), bound * (1 + 1e-6));  // float rounding of the bound
        EXPECT_NEAR(sample_std(l.layer->weight) / (bound / std::sqrt(3.0)), 1.0, 0.1) << l.name;
    }
}

// From the same kernel, an LC layer with one module per channel shared after
// every step is a convolution: equal outputs, and its gradient summed over
// positions is Conv2d's. With SGD at L times conv's rate (the share averages
// L per-position steps), the two stay equal at every step.
TEST(FullModules, LcWithFullSharingIsAConvolutionAtEveryStep) {
    for (int stride : {1, 2}) {
        for (LcAlgorithm a : {LcAlgorithm::cache_kernel, LcAlgorithm::patches_bmm}) {
            torch::manual_seed(4);
            LcGeometry g{3, 9, 9, 4, 3, stride, 1};
            LocallyConnected2d lc(LocallyConnected2dOptions{g, false});
            lc->algorithm = a;
            torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3).stride(stride).padding(1).bias(false));
            lc->set_shared_kernel(conv->weight.detach());
            const int64_t L = int64_t(g.h_out()) * g.w_out();
            const double lr = 0.05;
            for (int step = 0; step < 4; ++step) {
                auto x = torch::randn({5, 3, 9, 9});
                auto r = torch::randn({5, 4, g.h_out(), g.w_out()});
                lc->zero_grad();
                conv->zero_grad();
                auto y_lc = lc->forward(x), y_conv = conv->forward(x);
                ASSERT_TRUE(torch::allclose(y_lc, y_conv, 1e-4, 1e-5)) << "step " << step << " stride " << stride;
                (y_lc * r).sum().backward();
                (y_conv * r).sum().backward();
                auto summed = lc->weight.grad().view({4, L, g.fan_in()}).sum(1);
                ASSERT_TRUE(torch::allclose(summed, conv->weight.grad().view({4, -1}), 1e-4, 1e-4)) << "step " << step;
                torch::NoGradGuard ng;
                conv->weight.sub_(lr * conv->weight.grad());
                lc->weight.sub_(lr * double(L) * lc->weight.grad());
                share_instant(*lc, module_period(g, SharingModules::full));
                ASSERT_TRUE(torch::allclose(lc->weight.view({4, L, -1}).select(1, L / 2),
                                            conv->weight.view({4, -1}), 1e-4, 1e-5))  // float: the mean of L steps at L x the rate
                    << "step " << step << " stride " << stride;
            }
        }
    }
}

// sharing.gradient: module_mean with full modules: every position receives
// the mean gradient, so AdamW's per-parameter moments are the same at every
// position and the LC layer follows Conv2d under AdamW step by step (Adam is
// invariant to the gradient's scale, here 1/L, up to its eps). With each
// position's own gradient (the default) AdamW normalises per position and the
// layer leaves the convolution after the first step: the difference that the
// full-module training check measures.
TEST(FullModules, ModuleMeanGradientsFollowConv2dUnderAdamW) {
    for (const bool mean_gradient : {true, false}) {
        torch::manual_seed(7);
        LcGeometry g{3, 9, 9, 4, 3, 1, 1};
        LocallyConnected2d lc(LocallyConnected2dOptions{g, false});
        torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3).padding(1).bias(false));
        lc->set_shared_kernel(conv->weight.detach());
        const int64_t L = int64_t(g.h_out()) * g.w_out();
        // eps far below the gradients' scale / L, so that Adam's scale invariance holds to rounding.
        auto opts = torch::optim::AdamWOptions(1e-2).weight_decay(1e-4).eps(1e-12);
        torch::optim::AdamW opt_lc(lc->parameters(), opts), opt_conv(conv->parameters(), opts);
        double worst = 0;
        for (int step = 0; step < 5; ++step) {
            auto x = torch::randn({5, 3, 9, 9});
            auto r = torch::randn({5, 4, 9, 9});
            opt_lc.zero_grad();
            opt_conv.zero_grad();
            (lc->forward(x) * r).sum().backward();
            (conv->forward(x) * r).sum().backward();
            if (mean_gradient) share_gradients(*lc, module_period(g, SharingModules::full));
            opt_lc.step();
            opt_conv.step();
            auto w = lc->weight.detach().view({4, L, -1});
            auto k = conv->weight.detach().view({4, 1, -1});
            worst = std::max(worst, (w - k).abs().max().item<double>() / k.abs().max().item<double>());
        }
        if (mean_gradient) EXPECT_LT(worst, 1e-5) << "LC with module-mean gradients left Conv2d's trajectory";
        else EXPECT_GT(worst, 1e-3) << "per-position AdamW steps should differ from conv's";
    }
}

TEST(FullModules, HebbianModesRefuseLayersTheyCannotShare) {
    RunConfig cfg;
    cfg.network = resnet_cfg(Connect::lc);
    cfg.network.arch = Arch::small;
    cfg.network.depth = 2;
    Net net = build_network(cfg.network, InputShape{1, 12, 12, 10});
    cfg.sharing.modules = SharingModules::full;
    cfg.sharing.mode = SharingMode::instant;
    EXPECT_NO_THROW(check_sharable(cfg, net));
    for (SharingMode m : {SharingMode::hebbian, SharingMode::hebbian_authors, SharingMode::simulated}) {
        cfg.sharing.mode = m;
        try {
            check_sharable(cfg, net);
            ADD_FAILURE() << "no error for " << to_string(m);
        } catch (const UserError& e) {
            EXPECT_NE(std::string(e.what()).find("layer0"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("sharing.modules"), std::string::npos) << e.what();
        }
    }
    cfg.sharing.modules = SharingModules::grid;
    EXPECT_NO_THROW(check_sharable(cfg, net));
}

TEST(Snr, AuthorsFormIsMeanAbsOverUnbiasedStdOverInteriorPositions) {
    torch::manual_seed(5);
    LcGeometry g{2, 8, 8, 3, 3, 1, 1};
    LocallyConnected2d lc(LocallyConnected2dOptions{g, false});
    lc->authors_init(0.7);
    // By hand: interior positions 1..6 x 1..6.
    auto w = lc->weight.detach().to(torch::kDouble).narrow(1, 1, 6).narrow(2, 1, 6).reshape({3, 36, -1});
    const double expect = (w.mean(1).abs() / w.std(1, true)).mean().item<double>();
    EXPECT_NEAR(authors_snr(lc->weight, g), expect, 1e-9 * expect);
    // The core's per-module form with period 1 (population std), rescaled.
    const auto wd = lc->weight.detach().to(torch::kDouble).contiguous();
    const double core = lc_snr(g, wd.data_ptr<double>(), 1).mean_abs_over_std;
    EXPECT_NEAR(core * std::sqrt(35.0 / 36.0), expect, 1e-9 * expect);
}

// After instant sharing over full modules every input is equal at every
// position of its channel: the authors' code (their zero std replaced by
// 1e-20, written here in torch as theirs) gives a finite value, and so does
// the trainer's (the core's lc_snr_authors on a host copy), not +inf.
TEST(Snr, AuthorsFormOfFullySharedWeightsFollowsTheirZeroStdRule) {
    torch::manual_seed(8);
    LcGeometry g{2, 8, 8, 3, 3, 1, 1};
    LocallyConnected2d lc(LocallyConnected2dOptions{g, false});
    lc->authors_init(0.7);
    share_instant(*lc, 1);  // full modules: one kernel per channel
    auto w = lc->weight.detach().to(torch::kDouble).narrow(1, 1, 6).narrow(2, 1, 6).reshape({3, 36, -1});
    auto sd = w.std(1, true);
    ASSERT_EQ(sd.count_nonzero().item<int64_t>(), 0);
    sd = sd + sd.eq(0).to(sd.dtype()) * 1e-20;
    const double expect = (w.mean(1).abs() / sd).mean().item<double>();
    ASSERT_TRUE(std::isfinite(expect));
    EXPECT_NEAR(authors_snr(lc->weight, g), expect, 1e-9 * expect);
}

TEST(Sharing, AuthorsHebbianRaisesSnrAndLeavesBorderNeurons) {
    torch::manual_seed(6);
    LcGeometry g{2, 9, 9, 4, 3, 1, 1};
    LocallyConnected2d lc(LocallyConnected2dOptions{g, false});
    lc->authors_init(-1);
    const auto before = lc->weight.detach().clone();
    const double snr0 = neg_log_snr(lc->weight, g, 3);
    share_hebbian_authors(*lc, 3, 11);
    EXPECT_LT(neg_log_snr(lc->weight, g, 3), snr0 - 1.0);
    // Border neurons get no Hebbian term; the gamma pull to the saved weights is 0 there.
    for (int y = 0; y < g.h_out(); ++y)
        for (int x = 0; x < g.w_out(); ++x)
            if (g.is_border(y, x)) {
                EXPECT_TRUE(torch::equal(lc->weight[0][y][x], before[0][y][x])) << y << "," << x;
            }
    EXPECT_FALSE(torch::equal(lc->weight[0][4][4], before[0][4][4]));
}

TEST(Batches, RepetitionBatchGrowKeepsTheIterationCount) {
    auto fixed = epoch_batches(10, 8, 4, 0, 0, false);
    auto grow = epoch_batches(10, 8, 4, 0, 0, true);
    EXPECT_EQ(fixed.size(), 5u);  // 2 originals x 4 per batch
    ASSERT_EQ(grow.size(), 2u);   // 8 originals x 4 per batch
    EXPECT_EQ(grow[0].size(), 32u);
    EXPECT_EQ(grow[1].size(), 8u);
    EXPECT_EQ(grow[0][0], grow[0][3]);
    EXPECT_NO_THROW(epoch_batches(10, 8, 3, 0, 0, true));
}

// After a share the running statistics describe the weights before it; the
// re-estimation makes eval mode agree with the batch statistics again.
TEST(BnUpdate, RunningStatisticsFollowTheSharedWeights) {
    torch::manual_seed(7);
    NetworkConfig n;
    n.arch = Arch::small;
    n.connectivity = Connect::lc;
    n.width = 8;
    n.depth = 3;
    Net net = build_network(n, InputShape{1, 12, 12, 10});
    net->train();
    {
        torch::NoGradGuard ng;
        for (int i = 0; i < 20; ++i) net->forward(torch::randn({32, 1, 12, 12}));
        for (const auto& l : net->lc_layers()) share_instant(*l.layer.ptr(), 3);
    }
    auto x = torch::randn({256, 1, 12, 12});
    auto gap = [&] {
        torch::NoGradGuard ng;
        net->train();
        auto batch_stats = net->forward(x);
        net->eval();
        auto running = net->forward(x);
        return ((running - batch_stats).norm() / batch_stats.norm()).item<double>();
    };
    const double stale = gap();
    EXPECT_GT(stale, 0.5);  // the running statistics belong to the unshared weights
    net->train();
    reestimate_bn(net, 10, [] { return torch::randn({64, 1, 12, 12}); });
    EXPECT_TRUE(net->is_training());
    const double fresh = gap();
    EXPECT_LT(fresh, 0.1) << "stale " << stale;
    for (const auto& m : net->modules(false))
        if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get())) {
            EXPECT_TRUE(bn->options.momentum().has_value());
        }
}

namespace {

const std::string& fidelity_data() {
    static const std::string dir = [] {
        auto d = t::temp_dir("fidelity_data");
        t::write_fmnist(d, 64, 32, 12);
        return d;
    }();
    return dir;
}

RunConfig tiny(const std::vector<std::pair<std::string, std::string>>& sets) {
    const std::string yaml = "network: {arch: small, connectivity: lc, width: 4, depth: 2}\n"
                             "data: {dataset: fashion_mnist, path: " + fidelity_data() + ", padding: 2, validation: 0}\n"
                             "sharing: {mode: instant, every: 3}\n"
                             "train: {epochs: 2, batch_size: 16, lr: 1.0e-2, threads: 1, progress: never}\n";
    return parse_run_config(yaml, sets);
}

}  // namespace

TEST(Counter, EpochCountsBatchesWithinTheEpochAsTheAuthors) {
    // 64 images, batches of 16: 4 iterations per epoch.
    auto global = run_training(tiny({}), RunOptions{t::temp_dir("counter_global"), false, true});
    EXPECT_EQ(global.metrics.sleep_iteration, (std::vector<double>{3, 6}));
    auto epoch = run_training(tiny({{"sharing.counter", "epoch"}}), RunOptions{t::temp_dir("counter_epoch"), false, true});
    EXPECT_EQ(epoch.metrics.sleep_iteration, (std::vector<double>{1, 4, 5, 8}));
}

TEST(Config, NewKeysNameTheirAllowedValues) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"network.init", "he"},         {"data.repetition_batch", "double"}, {"sharing.counter", "daily"},
        {"sharing.modules", "all"},     {"train.bn_update", "yes"},          {"sharing.mode", "hebbian2"},
        {"train.bn_update_batches", "0"}};
    for (const auto& [key, value] : bad) {
        try {
            tiny({{key, value}});
            ADD_FAILURE() << key;
        } catch (const UserError& e) {
            EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
        }
    }
    auto cfg = tiny({});
    EXPECT_EQ(cfg.network.init, InitKind::authors);
    EXPECT_EQ(cfg.data.repetition_batch, RepetitionBatch::fixed);
    EXPECT_EQ(cfg.sharing.counter, SharingCounter::global);
    EXPECT_EQ(cfg.sharing.modules, SharingModules::grid);
    EXPECT_EQ(cfg.train.bn_update, BnUpdate::before_eval);
    const std::string y = to_yaml(cfg);
    for (const char* k : {"init: authors", "repetition_batch: fixed", "counter: global", "modules: grid",
                          "bn_update: before_eval", "bn_update_batches: 10"})
        EXPECT_NE(y.find(k), std::string::npos) << k;
    EXPECT_EQ(tiny({{"sharing.mode", "hebbian_authors"}}).sharing.mode, SharingMode::hebbian_authors);
}

TEST(Metrics, BothSnrFormsAreRecorded) {
    auto s = run_training(tiny({{"train.epochs", "1"}}), RunOptions{t::temp_dir("snr_forms"), false, true});
    ASSERT_EQ(s.metrics.snr.size(), 1u);
    ASSERT_EQ(s.metrics.snr_authors.size(), 1u);
    ASSERT_EQ(s.metrics.snr_authors[0].size(), 2u);
    for (double v : s.metrics.snr_authors[0]) EXPECT_GT(v, 0.0);
}
