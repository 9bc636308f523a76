// SPDX-License-Identifier: BSD-3-Clause
// Instant and Hebbian sharing in LibTorch on the layer's own device; the
// Hebbian modes' Eq. 4 is models/ideal.hpp's on whole tensors, and both SNR
// metrics are the core's (include/dynshare/snr.hpp) on a host copy. Module
// membership is an index per output position (y mod p) * p + (x mod p), so
// module sums are one index_add_.
#include "trainer/sharing.hpp"

#include <chrono>
#include <cmath>

#include "dynshare/errors.hpp"
#include "dynshare/sleep_phase.hpp"
#include "dynshare/snr.hpp"
#include "models/ideal.hpp"

namespace dynshare::trainer {
namespace {

// Module id of every output position, (L,) int64.
torch::Tensor module_ids(const LcGeometry& g, int p, const torch::Device& dev) {
    auto y = torch::arange(g.h_out(), torch::kLong).remainder(p);
    auto x = torch::arange(g.w_out(), torch::kLong).remainder(p);
    return (y.unsqueeze(1) * p + x.unsqueeze(0)).flatten().to(dev);
}

// Mean over each module of v (c, L, ...) -> (c, n, ...), using `ids` (values < n).
torch::Tensor module_mean(const torch::Tensor& v, const torch::Tensor& ids, int64_t n) {
    auto shape = v.sizes().vec();
    shape[1] = n;
    auto sums = torch::zeros(shape, v.options()).index_add_(1, ids, v);
    auto counts = torch::bincount(ids, {}, n).to(v.dtype());
    std::vector<int64_t> cshape(v.dim(), 1);
    cshape[1] = n;
    return sums / counts.clamp_min(1).view(cshape);
}

// 1 for the neurons whose receptive field stays inside the input, (L,) bool.
torch::Tensor interior_mask(const LcGeometry& g) {
    auto m = torch::zeros({int64_t(g.h_out()) * g.w_out()}, torch::kBool);
    auto a = m.accessor<bool, 1>();
    for (int y = 0; y < g.h_out(); ++y)
        for (int x = 0; x < g.w_out(); ++x) a[int64_t(y) * g.w_out() + x] = !g.is_border(y, x);
    return m;
}

}  // namespace

double authors_snr(const torch::Tensor& weight, const LcGeometry& g) {
    torch::NoGradGuard no_grad;
    // The core's one authors' SNR (include/dynshare/snr.hpp), on a host fp64 copy.
    const auto w = weight.detach().to(torch::kCPU, torch::kDouble).contiguous();
    return lc_snr_authors(g, w.data_ptr<double>());
}

std::vector<double> network_snr_authors(const Net& net) {
    std::vector<double> out;
    for (const auto& l : net->lc_layers()) out.push_back(authors_snr(l.layer->weight, l.layer->geometry()));
    return out;
}

void share_hebbian_authors(LocallyConnected2dImpl& layer, int p, uint64_t seed) {
    torch::NoGradGuard no_grad;
    using H = AuthorsHebbian;
    const LcGeometry& g = layer.geometry();
    auto dev = layer.weight.device();
    auto gen = at::detail::createCPUGenerator(seed);
    const int64_t L = int64_t(g.h_out()) * g.w_out();
    // Border neurons form an extra module whose term is zeroed below.
    const auto inner = interior_mask(g);
    auto ids = module_ids(g, p, torch::kCPU);
    ids = torch::where(inner, ids, torch::full_like(ids, int64_t(p) * p));
    ids = ids.to(dev);
    const auto keep = inner.to(dev).to(layer.weight.dtype()).view({1, L, 1});
    auto w = layer.weight.view({g.c_out, L, g.fan_in()});
    const auto saved = w.clone();
    // Grid modules: the authors' tiles of period k (neurons k apart read
    // inputs k*stride apart, a multiple of k). Full modules: period stride
    // (check_sharable: kernel <= stride, no padding).
    const int period = p == 1 ? g.stride : g.k;
    const int reps_y = (g.h_in + period - 1) / period, reps_x = (g.w_in + period - 1) / period;
    for (int t = 0; t < H::iterations; ++t) {
        auto tile = torch::randn({H::patterns, g.c_in, period, period}, gen, torch::kFloat);
        auto img = tile.repeat({1, 1, reps_y, reps_x}).narrow(2, 0, g.h_in).narrow(3, 0, g.w_in).to(dev);
        auto x = lc_patches(img, g).to(w.dtype());                      // (L, M, F)
        auto z = torch::bmm(x, w.permute({1, 2, 0})).permute({2, 0, 1});  // (c_out, L, M)
        auto r = ideal_centered(z, module_mean(z, ids, p * p + 1).index_select(1, ids)) * keep;
        auto hebb = torch::bmm(r.permute({1, 0, 2}), x).permute({1, 0, 2}) / double(H::patterns);  // (c_out, L, F)
        ideal_batch_step(w, saved, hebb, H::gamma, H::lr);  // models/ideal.hpp, on the mean over patterns
    }
}

void check_sharable(const RunConfig& cfg, const Net& net) {
    const auto mode = cfg.sharing.mode;
    if (cfg.sharing.modules != SharingModules::full ||
        !(mode == SharingMode::hebbian || mode == SharingMode::hebbian_authors || mode == SharingMode::simulated))
        return;
    for (const auto& l : net->lc_layers()) {
        const LcGeometry& g = l.layer->geometry();
        if (g.padding > 0 || g.k > g.stride)
            throw UserError("sharing.modules = full: layer " + l.name + " (kernel " + std::to_string(g.k) + ", stride " +
                            std::to_string(g.stride) + ", padding " + std::to_string(g.padding) +
                            ") cannot be shared by sharing.mode " + to_string(mode) +
                            ": no tiled input shows all its neurons one patch (needs padding 0 and kernel <= stride); "
                            "use sharing.mode instant or sharing.modules grid");
    }
}

double neg_log_snr(const torch::Tensor& weight, const LcGeometry& g, int p) {
    torch::NoGradGuard no_grad;
    // The core's one SNR_w (include/dynshare/snr.hpp), on a host fp64 copy.
    const auto w = weight.detach().to(torch::kCPU, torch::kDouble).contiguous();
    return lc_snr(g, w.data_ptr<double>(), p).neg_log_snr;
}

void share_instant(LocallyConnected2dImpl& layer, int p) {
    torch::NoGradGuard no_grad;
    const LcGeometry& g = layer.geometry();
    auto ids = module_ids(g, p, layer.weight.device());
    auto w = layer.weight.view({g.c_out, -1, g.fan_in()});
    w.copy_(module_mean(w, ids, p * p).index_select(1, ids));
    if (layer.bias.defined()) {
        auto b = layer.bias.view({g.c_out, -1});
        b.copy_(module_mean(b, ids, p * p).index_select(1, ids));
    }
}

void share_gradients(LocallyConnected2dImpl& layer, int p) {
    torch::NoGradGuard no_grad;
    const LcGeometry& g = layer.geometry();
    auto ids = module_ids(g, p, layer.weight.device());
    if (layer.weight.grad().defined()) {
        auto d = layer.weight.grad().view({g.c_out, -1, g.fan_in()});
        d.copy_(module_mean(d, ids, p * p).index_select(1, ids));
    }
    if (layer.bias.defined() && layer.bias.grad().defined()) {
        auto d = layer.bias.grad().view({g.c_out, -1});
        d.copy_(module_mean(d, ids, p * p).index_select(1, ids));
    }
}

void share_hebbian(LocallyConnected2dImpl& layer, int p, int64_t presentations, int patterns, double lr,
                   double gamma, uint64_t seed) {
    torch::NoGradGuard no_grad;
    const LcGeometry& g = layer.geometry();
    auto dev = layer.weight.device();
    auto gen = at::detail::createCPUGenerator(seed);
    auto ids = module_ids(g, p, dev);
    auto w = layer.weight.view({g.c_out, -1, g.fan_in()});
    const auto w0 = w.clone();
    const int period = p * g.stride;  // neurons p apart read inputs p*stride apart
    const int reps_y = (g.h_in + period - 1) / period, reps_x = (g.w_in + period - 1) / period;
    for (int64_t t = 0; t < presentations; ++t) {
        auto tile = torch::randn({patterns, g.c_in, period, period}, gen, torch::kFloat) /
                    std::sqrt(double(g.fan_in()));                      // unit-norm patches on average
        auto img = tile.repeat({1, 1, reps_y, reps_x}).narrow(2, 0, g.h_in).narrow(3, 0, g.w_in).to(dev);
        auto x = lc_patches(img, g).to(w.dtype());                      // (L, M, F)
        auto z = torch::bmm(x, w.permute({1, 2, 0}));                   // (L, M, c_out)
        z = z.permute({2, 0, 1});                                       // (c_out, L, M)
        // Eq. 4 from models/ideal.hpp on the whole layer: the centred drives,
        // their Hebbian terms summed over the patterns (one GEMM), the step.
        auto r = ideal_centered(z, module_mean(z, ids, p * p).index_select(1, ids));
        auto hebb = torch::bmm(r.permute({1, 0, 2}), x).permute({1, 0, 2});  // (c_out, L, F)
        ideal_batch_step(w, w0, hebb, gamma, lr);
    }
}

std::vector<size_t> longest_chain(const std::vector<LcGeometry>& layers) {
    std::vector<size_t> best, run;
    for (size_t i = 0; i < layers.size(); ++i) {
        const LcGeometry& y = layers[i];
        if (!run.empty()) {
            const LcGeometry& x = layers[run.back()];
            if (!(x.c_out == y.c_in && x.h_out() == y.h_in && x.w_out() == y.w_in)) run.clear();
        }
        run.push_back(i);
        if (run.size() > best.size()) best = run;
    }
    return best;
}

std::vector<size_t> sleep_chain(const Net& net) {
    const auto& lc = net->lc_layers();
    std::vector<size_t> main;  // indices of the main-path layers in lc
    std::vector<LcGeometry> geometry;
    for (size_t i = 0; i < lc.size(); ++i)
        if (lc[i].main_path) main.push_back(i), geometry.push_back(lc[i].layer->geometry());
    std::vector<size_t> chain;
    for (size_t j : longest_chain(geometry)) chain.push_back(main[j]);
    return chain;
}

std::vector<double> network_snr(const Net& net, SharingModules modules) {
    std::vector<double> out;
    for (const auto& l : net->lc_layers())
        out.push_back(neg_log_snr(l.layer->weight, l.layer->geometry(), module_period(l.layer->geometry(), modules)));
    return out;
}

SleepRecord apply_sharing(const RunConfig& cfg, Net& net, uint64_t phase) {
    SleepRecord rec;
    // The SNR costs more than an instant phase itself; for instant sharing
    // (often every iteration) it is measured on every 10th phase only.
    const bool measure = cfg.sharing.mode != SharingMode::instant || phase % 10 == 0;
    const std::vector<double> unmeasured(net->lc_layers().size(), std::nan(""));
    const auto modules = cfg.sharing.modules;
    rec.snr_before = measure ? network_snr(net, modules) : unmeasured;
    const auto t0 = std::chrono::steady_clock::now();
    const auto& lc = net->lc_layers();
    const auto& s = cfg.sharing;
    const uint64_t seed = sleep_phase_stream(cfg.train.seed, phase);  // include/dynshare/sleep_phase.hpp
    switch (s.mode) {
    case SharingMode::none: break;
    case SharingMode::instant:
        for (const auto& l : lc) share_instant(*l.layer.ptr(), module_period(l.layer->geometry(), modules));
        break;
    case SharingMode::hebbian:
        for (size_t i = 0; i < lc.size(); ++i)
            share_hebbian(*lc[i].layer.ptr(), module_period(lc[i].layer->geometry(), modules), s.presentations, 32,
                          s.lr, s.gamma, seed * 131 + i);
        break;
    case SharingMode::hebbian_authors:
        for (size_t i = 0; i < lc.size(); ++i)
            share_hebbian_authors(*lc[i].layer.ptr(), module_period(lc[i].layer->geometry(), modules), seed * 131 + i);
        break;
    case SharingMode::simulated: {
        const auto chain = sleep_chain(net);
        std::vector<bool> in_chain(lc.size(), false);
        for (size_t i : chain) in_chain[i] = true;
        run_simulated_sleep(cfg, net, chain, seed);
        for (size_t i = 0; i < lc.size(); ++i)  // e.g. 1x1 shortcuts: off the chain
            if (!in_chain[i]) share_instant(*lc[i].layer.ptr(), module_period(lc[i].layer->geometry(), modules));
        break;
    }
    }
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rec.snr_after = measure ? network_snr(net, modules) : unmeasured;
    return rec;
}

}  // namespace dynshare::trainer
