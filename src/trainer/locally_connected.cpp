// SPDX-License-Identifier: BSD-3-Clause
// The CPU forward and backward are lc_cpu_kernel.cpp's. The GPU (and
// LcAlgorithm::patches_bmm) computes one batched matrix product over output positions:
//   cols (L, B, fan_in) x W (L, fan_in, c_out) -> (L, B, c_out),  L = h_out*w_out.
// Autograd then keeps only `cols` and W for the backward pass (two more bmm's)
// instead of the batch x c_out x fan_in x L product a plain unfold-and-
// multiply LC layer creates, which is what makes LC ResNets fit in memory.
#include "trainer/locally_connected.hpp"

#include <cmath>

#include "dynshare/errors.hpp"
#include "trainer/lc_cpu_kernel.hpp"

namespace dynshare::trainer {

LocallyConnected2dImpl::LocallyConnected2dImpl(const LocallyConnected2dOptions& options) : options_(options) {
    const LcGeometry& g = options_.geometry;
    if (g.h_out() < 1 || g.w_out() < 1)
        throw UserError("locally connected layer: input " + std::to_string(g.h_in) + "x" + std::to_string(g.w_in) +
                        " too small for kernel " + std::to_string(g.k) + " (stride " + std::to_string(g.stride) +
                        ", padding " + std::to_string(g.padding) + ")");
    // Same initialisation as torch's Conv2d (kaiming_uniform with a = sqrt(5)):
    // uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), for weights and bias.
    const double bound = 1.0 / std::sqrt(double(g.fan_in()));
    weight = register_parameter(
        "weight", torch::empty({g.c_out, g.h_out(), g.w_out(), g.fan_in()}).uniform_(-bound, bound));
    if (options_.bias)
        bias = register_parameter("bias", torch::empty({g.c_out, g.h_out(), g.w_out()}).uniform_(-bound, bound));
}

torch::Tensor lc_patches(const torch::Tensor& x, const LcGeometry& g) {
    // Tensor::unfold makes strided views (no copy); the one reshape copies
    // straight into (L, B, F). (torch's im2col, nn::functional::unfold, is
    // ~50x slower on LibTorch 1.13 CPU for these shapes.)
    const int64_t B = x.size(0);
    auto xp = g.padding > 0 ? torch::constant_pad_nd(x, {g.padding, g.padding, g.padding, g.padding}, 0.0) : x;
    auto v = xp.unfold(2, g.k, g.stride).unfold(3, g.k, g.stride);    // (B, C, h_out, w_out, k, k)
    return v.permute({2, 3, 0, 1, 4, 5}).reshape({int64_t(g.h_out()) * g.w_out(), B, g.fan_in()});
}

torch::Tensor LocallyConnected2dImpl::forward(const torch::Tensor& x) {
    const LcGeometry& g = options_.geometry;
    TORCH_CHECK(x.dim() == 4 && x.size(1) == g.c_in && x.size(2) == g.h_in && x.size(3) == g.w_in,
                "LocallyConnected2d: expected input (B, ", g.c_in, ", ", g.h_in, ", ", g.w_in, "), got ", x.sizes());
    LcAlgorithm a = algorithm;
    if (a == LcAlgorithm::automatic) a = x.is_cpu() ? LcAlgorithm::cache_kernel : LcAlgorithm::patches_bmm;
    if (a == LcAlgorithm::cache_kernel && !x.is_cpu())
        throw UserError("LocallyConnected2d: the cache_kernel algorithm runs on the CPU only");
    switch (a) {
    case LcAlgorithm::naive: return forward_naive(x);
    case LcAlgorithm::cache_kernel: {
        auto out = lc_forward_cpu(x, weight, g);
        return bias.defined() ? out + bias.unsqueeze(0) : out;
    }
    default: return forward_bmm(x);
    }
}

torch::Tensor LocallyConnected2dImpl::forward_bmm(const torch::Tensor& x) {
    const LcGeometry& g = options_.geometry;
    const int64_t B = x.size(0), L = int64_t(g.h_out()) * g.w_out(), F = g.fan_in();
    auto cols = lc_patches(x, g);                                         // (L, B, F), Conv2d's (c_in, ky, kx) order
    auto w = weight.view({g.c_out, L, F}).permute({1, 2, 0});             // (L, F, c_out)
    auto out = torch::bmm(cols, w);                                       // (L, B, c_out)
    out = out.permute({1, 2, 0}).reshape({B, g.c_out, g.h_out(), g.w_out()});
    if (bias.defined()) out = out + bias.unsqueeze(0);
    return out;
}

torch::Tensor LocallyConnected2dImpl::forward_naive(const torch::Tensor& x) {
    const LcGeometry& g = options_.geometry;
    auto xp = g.padding > 0 ? torch::constant_pad_nd(x, {g.padding, g.padding, g.padding, g.padding}, 0.0) : x;
    auto p = xp.unfold(2, g.k, g.stride).unfold(3, g.k, g.stride);  // (B, C, h, w, k, k)
    p = p.permute({0, 2, 3, 1, 4, 5}).reshape({x.size(0), 1, g.h_out(), g.w_out(), g.fan_in()});
    auto out = (p * weight.unsqueeze(0)).sum(-1);                   // (B, c_out, h, w)
    if (bias.defined()) out = out + bias.unsqueeze(0);
    return out;
}

void LocallyConnected2dImpl::set_shared_kernel(const torch::Tensor& kernel) {
    const LcGeometry& g = options_.geometry;
    torch::NoGradGuard no_grad;
    weight.copy_(kernel.reshape({g.c_out, 1, 1, g.fan_in()}).expand_as(weight));
}

void LocallyConnected2dImpl::conv_init(double eps) {
    const LcGeometry& g = options_.geometry;
    torch::NoGradGuard no_grad;
    const double bound = 1.0 / std::sqrt(double(g.fan_in()));
    auto kernel = torch::empty({g.c_out, g.fan_in()}, weight.options()).uniform_(-bound, bound);
    set_shared_kernel(kernel);
    if (eps > 0) weight.add_(torch::empty_like(weight).uniform_(-bound, bound), eps);
    if (bias.defined()) bias.copy_(torch::empty({g.c_out, 1, 1}, bias.options()).uniform_(-bound, bound).expand_as(bias));
}

}  // namespace dynshare::trainer

namespace dynshare::trainer {

void LocallyConnected2dImpl::authors_init(double eps) {
    const LcGeometry& g = options_.geometry;
    torch::NoGradGuard no_grad;
    const double sd = std::sqrt(2.0 / (double(g.c_out) * g.k * g.k));
    if (eps < 0) {
        weight.normal_(0.0, sd);
        return;
    }
    set_shared_kernel(torch::randn({g.c_out, g.fan_in()}, weight.options()));
    if (eps > 0) weight.add_(torch::randn_like(weight), eps);
    weight.mul_(sd / std::sqrt(1.0 + eps * eps));
    if (bias.defined()) {
        const double bound = 1.0 / std::sqrt(double(g.fan_in()));
        bias.copy_(torch::empty({g.c_out, 1, 1}, bias.options()).uniform_(-bound, bound).expand_as(bias));
    }
}

}  // namespace dynshare::trainer
