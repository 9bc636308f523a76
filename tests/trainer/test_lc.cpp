// SPDX-License-Identifier: BSD-3-Clause
// LocallyConnected2d: layout, finite-difference gradients, and equality with
// Conv2d when every position holds the same kernel.
#include <gtest/gtest.h>

#include <cstdlib>

#include "dynshare/errors.hpp"
#include "trainer/lc_gemm.hpp"
#include "trainer/locally_connected.hpp"

using namespace dynshare;
using namespace dynshare::trainer;

namespace {

LocallyConnected2d make_lc(const LcGeometry& g, bool bias) {
    torch::manual_seed(1);
    LocallyConnected2d lc(LocallyConnected2dOptions{g, bias});
    lc->to(torch::kDouble);
    return lc;
}

}  // namespace

// Output (c, y, x) = sum over (ci, ky, kx) of weight[c][y][x][ci][ky][kx] *
// input[ci][y*s - p + ky][x*s - p + kx]: the engine's layout, checked by hand.
TEST(LocallyConnected, WeightLayoutMatchesEngine) {
    const LcGeometry g{2, 5, 6, 3, 3, 2, 1};
    auto lc = make_lc(g, false);
    auto x = torch::randn({1, g.c_in, g.h_in, g.w_in}, torch::kDouble);
    auto out = lc->forward(x);
    auto w = lc->weight.contiguous();
    const double* wp = w.data_ptr<double>();
    for (int c = 0; c < g.c_out; ++c)
        for (int y = 0; y < g.h_out(); ++y)
            for (int xo = 0; xo < g.w_out(); ++xo) {
                double sum = 0;
                const double* wn = wp + g.neuron(c, y, xo) * g.fan_in();
                for (int ci = 0; ci < g.c_in; ++ci)
                    for (int ky = 0; ky < g.k; ++ky)
                        for (int kx = 0; kx < g.k; ++kx) {
                            const int iy = y * g.stride - g.padding + ky, ix = xo * g.stride - g.padding + kx;
                            if (iy < 0 || ix < 0 || iy >= g.h_in || ix >= g.w_in) continue;
                            sum += wn[(ci * g.k + ky) * g.k + kx] * x[0][ci][iy][ix].item<double>();
                        }
                // Same products, different summation order: a few ulps.
                EXPECT_NEAR(out[0][c][y][xo].item<double>(), sum, 1e-13) << c << " " << y << " " << xo;
            }
}

// The loss sum(out * R) is linear in every weight, bias and input entry, so
// central differences are exact up to rounding: |error| ~ 1e-16 |loss| / h.
TEST(LocallyConnected, GradientMatchesFiniteDifferences) {
    const LcGeometry g{2, 5, 5, 3, 3, 2, 1};
    auto lc = make_lc(g, true);
    auto x = torch::randn({2, g.c_in, g.h_in, g.w_in}, torch::kDouble).requires_grad_(true);
    auto R = torch::randn({2, g.c_out, g.h_out(), g.w_out()}, torch::kDouble);
    auto loss_of = [&] { return (lc->forward(x) * R).sum(); };
    loss_of().backward();
    const double h = 1e-6;
    for (torch::Tensor t : {lc->weight, lc->bias, x}) {
        auto grad = t.grad().clone();
        auto flat = t.detach().view({-1});
        for (int64_t i = 0; i < flat.numel(); i += 7) {
            torch::NoGradGuard ng;
            const double v = flat[i].item<double>();
            flat[i] = v + h;
            const double lp = loss_of().item<double>();
            flat[i] = v - h;
            const double lm = loss_of().item<double>();
            flat[i] = v;
            EXPECT_NEAR(grad.view({-1})[i].item<double>(), (lp - lm) / (2 * h), 1e-8) << i;
        }
    }
}

// Shared kernel == Conv2d, output and input gradient; double precision, the
// two differ only in summation order (tolerance 1e-12 on O(1) values).
TEST(LocallyConnected, SharedKernelEqualsConv2d) {
    for (auto g : {LcGeometry{3, 8, 8, 4, 3, 1, 1}, LcGeometry{3, 9, 7, 5, 3, 2, 0}, LcGeometry{4, 6, 6, 2, 1, 2, 0}}) {
        torch::manual_seed(2);
        torch::nn::Conv2d conv(torch::nn::Conv2dOptions(g.c_in, g.c_out, g.k).stride(g.stride).padding(g.padding).bias(true));
        conv->to(torch::kDouble);
        auto lc = make_lc(g, true);
        lc->set_shared_kernel(conv->weight.detach());
        {
            torch::NoGradGuard ng;
            lc->bias.copy_(conv->bias.view({g.c_out, 1, 1}).expand_as(lc->bias));
        }
        auto x1 = torch::randn({3, g.c_in, g.h_in, g.w_in}, torch::kDouble).requires_grad_(true);
        auto x2 = x1.detach().clone().requires_grad_(true);
        auto R = torch::randn({3, g.c_out, g.h_out(), g.w_out()}, torch::kDouble);
        auto y1 = conv->forward(x1), y2 = lc->forward(x2);
        ASSERT_EQ(y1.sizes(), y2.sizes());
        EXPECT_LT((y1 - y2).abs().max().item<double>(), 1e-12);
        (y1 * R).sum().backward();
        (y2 * R).sum().backward();
        EXPECT_LT((x1.grad() - x2.grad()).abs().max().item<double>(), 1e-12);
    }
}

TEST(LocallyConnected, ConvInitSharesOneKernel) {
    const LcGeometry g{2, 6, 6, 3, 3, 1, 1};
    LocallyConnected2d lc(LocallyConnected2dOptions{g, false});
    lc->conv_init(0.0);
    auto w = lc->weight.view({g.c_out, -1, g.fan_in()});
    EXPECT_EQ((w - w.select(1, 0).unsqueeze(1)).abs().max().item<float>(), 0.0f);
    lc->conv_init(0.1);
    EXPECT_GT((w - w.select(1, 0).unsqueeze(1)).abs().max().item<float>(), 0.0f);
}

TEST(LocallyConnected, TooSmallInputIsAUserError) {
    const LocallyConnected2dOptions tiny{LcGeometry{1, 2, 2, 1, 3, 1, 0}, false};
    EXPECT_THROW(LocallyConnected2d{tiny}, dynshare::UserError);
}

namespace {

// Output and the gradients of sum(out * R) for weight, bias and input.
std::vector<torch::Tensor> outputs_and_grads(LocallyConnected2d& lc, const torch::Tensor& x0, const torch::Tensor& R) {
    for (auto& p : lc->parameters()) p.mutable_grad() = torch::Tensor();
    auto x = x0.clone().requires_grad_(true);
    auto out = lc->forward(x);
    (out * R).sum().backward();
    return {out.detach(), lc->weight.grad().clone(), lc->bias.grad().clone(), x.grad().clone()};
}


// Runs `body` once with each instruction-set form of the cache kernel that
// this CPU has (lc_gemm.hpp: portable, and avx2 / avx512 where present),
// then restores the form in use.
template <class F>
void for_each_isa(F body) {
    const LcIsa before = lc_isa();
    for (LcIsa isa : lc_isas_available()) {
        SCOPED_TRACE(std::string("LC kernel form ") + to_string(isa));
        set_lc_isa(isa);
        body(isa);
    }
    set_lc_isa(before);
}

}  // namespace

// The three algorithms (cache kernel, patches + bmm, unfold-and-multiply)
// give the same output and gradients, in double: they differ only in the
// order of summation, so 1e-12 on O(1)-O(10) values. The geometries cover
// stride 2, padding 0-2, 1x1 and 5x5 kernels, batch sizes that are not a
// multiple of the kernel's 8-row block, and channel counts that leave
// vector remainders (for every vector width: 2, 4 and 8 doubles). Every
// instruction-set form of the cache kernel is checked.
TEST(LocallyConnected, AlgorithmsAgreeOnOutputAndGradients) {
    for_each_isa([](LcIsa) {
        const std::vector<std::pair<LcGeometry, int>> cases = {
            {LcGeometry{3, 7, 6, 4, 3, 2, 1}, 2}, {LcGeometry{1, 9, 9, 16, 3, 1, 1}, 11},
            {LcGeometry{5, 6, 8, 19, 3, 1, 0}, 9}, {LcGeometry{4, 6, 6, 8, 1, 2, 0}, 3},
            {LcGeometry{2, 8, 7, 3, 5, 1, 2}, 17}, {LcGeometry{7, 5, 5, 5, 3, 1, 1}, 35}};
        for (const auto& [g, batch] : cases) {
            auto lc = make_lc(g, true);
            auto x = torch::randn({batch, g.c_in, g.h_in, g.w_in}, torch::kDouble);
            auto R = torch::randn({batch, g.c_out, g.h_out(), g.w_out()}, torch::kDouble);
            lc->algorithm = LcAlgorithm::cache_kernel;
            const auto a = outputs_and_grads(lc, x, R);
            for (LcAlgorithm other : {LcAlgorithm::patches_bmm, LcAlgorithm::naive}) {
                lc->algorithm = other;
                const auto b = outputs_and_grads(lc, x, R);
                for (size_t i = 0; i < a.size(); ++i)
                    EXPECT_LT((a[i] - b[i]).abs().max().item<double>(), 1e-12)
                        << "tensor " << i << " (out, dweight, dbias, dx), algorithm " << int(other) << ", c_in "
                        << g.c_in << " k " << g.k << " stride " << g.stride << " batch " << batch;
            }
        }
    });
}

// Each output and gradient entry of the cache kernel is summed by one thread
// in a fixed order, so 1 and 2 threads give bit-identical results (float).
TEST(LocallyConnected, CacheKernelIndependentOfThreadCount) {
    const LcGeometry g{6, 10, 9, 16, 3, 1, 1};
    torch::manual_seed(4);
    LocallyConnected2d lc(LocallyConnected2dOptions{g, true});
    auto x = torch::randn({13, g.c_in, g.h_in, g.w_in});
    auto R = torch::randn({13, g.c_out, g.h_out(), g.w_out()});
    for_each_isa([&](LcIsa) {
        const int before = torch::get_num_threads();
        torch::set_num_threads(1);
        const auto one = outputs_and_grads(lc, x, R);
        torch::set_num_threads(2);
        const auto two = outputs_and_grads(lc, x, R);
        torch::set_num_threads(before);
        for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(torch::equal(one[i], two[i])) << "tensor " << i;
    });
}

// The forms differ in summation order (vector width) and in fused
// multiply-adds, so in float they agree to rounding: relative 1e-5 of each
// tensor's largest entry (sums of up to 7 x 9 = 63 products per output, 35 per
// weight gradient). And the form in use is the widest this CPU has.
TEST(LocallyConnected, KernelFormsAgreeInFloat) {
    const std::vector<LcIsa> have = lc_isas_available();
    ASSERT_FALSE(have.empty());
    EXPECT_EQ(have.front(), LcIsa::portable);
    if (!std::getenv("DYNSHARE_LC_KERNEL")) {
        EXPECT_EQ(lc_isa(), have.back());
    }
    const LcGeometry g{7, 9, 8, 13, 3, 1, 1};
    torch::manual_seed(5);
    LocallyConnected2d lc(LocallyConnected2dOptions{g, true});
    auto x = torch::randn({35, g.c_in, g.h_in, g.w_in});
    auto R = torch::randn({35, g.c_out, g.h_out(), g.w_out()});
    std::vector<std::vector<torch::Tensor>> results;
    for_each_isa([&](LcIsa) { results.push_back(outputs_and_grads(lc, x, R)); });
    for (size_t f = 1; f < results.size(); ++f)
        for (size_t i = 0; i < results[0].size(); ++i) {
            const double scale = results[0][i].abs().max().item<double>();
            EXPECT_LT((results[f][i] - results[0][i]).abs().max().item<double>(), 1e-5 * scale)
                << "form " << to_string(have[f]) << " against portable, tensor " << i;
        }
}
