// SPDX-License-Identifier: BSD-3-Clause
// LocallyConnected2d: a Conv2d whose kernel differs at every output position.
// The weight tensor has shape (c_out, h_out, w_out, c_in*k*k), contiguous,
// i.e. exactly the engine's layout [c_out][h_out][w_out][c_in][k][k]
// (include/dynshare/lc_geometry.hpp), so sleep phases read it in place.
#pragma once
#include <torch/torch.h>

#include "dynshare/lc_geometry.hpp"
#include "trainer/lc_algorithm.hpp"

namespace dynshare::trainer {

// Receptive fields of x (B, c_in, h_in, w_in) as (L, B, fan_in), L = h_out*w_out,
// each in Conv2d's (c_in, ky, kx) order; differentiable.
torch::Tensor lc_patches(const torch::Tensor& x, const LcGeometry& g);


struct LocallyConnected2dOptions {
    LcGeometry geometry;
    bool bias = true;
};

class LocallyConnected2dImpl : public torch::nn::Module {
public:
    explicit LocallyConnected2dImpl(const LocallyConnected2dOptions& options);

    // x: (B, c_in, h_in, w_in) -> (B, c_out, h_out, w_out)
    torch::Tensor forward(const torch::Tensor& x);

    // Every position starts from one shared kernel plus eps * noise of the
    // same scale (the follow-up paper's "convolutional initialisation").
    void conv_init(double eps);
    // The authors' initialisation (their LocallyConnected2d): He normal on
    // the fan-out with the ReLU gain, std = sqrt(2 / (c_out k^2)), drawn
    // independently at every position (eps < 0) or, for eps >= 0, as
    // std / sqrt(1 + eps^2) * (one shared N(0,1) kernel + eps * N(0,1) noise),
    // so that the variance does not grow with eps. The bias (only without
    // batch norm) keeps torch's uniform(+-1/sqrt(fan_in)), as theirs.
    void authors_init(double eps);
    // Every position holds `kernel` (c_out, c_in, k, k).
    void set_shared_kernel(const torch::Tensor& kernel);

    const LcGeometry& geometry() const { return options_.geometry; }

    LcAlgorithm algorithm = LcAlgorithm::automatic;

    torch::Tensor weight;  // (c_out, h_out, w_out, fan_in)
    torch::Tensor bias;    // (c_out, h_out, w_out) or undefined

private:
    torch::Tensor forward_naive(const torch::Tensor& x);
    torch::Tensor forward_bmm(const torch::Tensor& x);
    LocallyConnected2dOptions options_;
};
TORCH_MODULE(LocallyConnected2d);

}  // namespace dynshare::trainer
