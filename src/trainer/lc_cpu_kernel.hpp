// SPDX-License-Identifier: BSD-3-Clause
// The CPU forward and backward of LocallyConnected2d, without the patch
// tensor. A batched matmul over output positions (the CUDA path) first
// copies every receptive field into an (L, B, c_in k^2) tensor: k^2 times the
// input, written to and read back from memory, and kept by autograd for the
// backward pass. Here each thread gathers one position's patches into a
// buffer that stays in cache and multiplies it there, so memory traffic is
// that of the input, the weights and the output only.
#pragma once
#include <torch/torch.h>

#include "dynshare/lc_geometry.hpp"

namespace dynshare::trainer {

// x (B, c_in, h_in, w_in) and weight (c_out, h_out, w_out, fan_in), CPU,
// float or double -> (B, c_out, h_out, w_out), differentiable in both. The
// result does not depend on the number of threads (every output and gradient
// entry is summed by one thread in a fixed order).
torch::Tensor lc_forward_cpu(const torch::Tensor& x, const torch::Tensor& weight, const LcGeometry& g);

}  // namespace dynshare::trainer
