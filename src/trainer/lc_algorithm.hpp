// SPDX-License-Identifier: BSD-3-Clause
// Which implementation a LocallyConnected2d layer runs (network.lc_algorithm).
// Kept apart from locally_connected.hpp so the config (train_config.hpp)
// can hold the typed value without including LibTorch. All give the same
// numbers up to summation order.
//   automatic: cache_kernel on the CPU, patches_bmm on the GPU.
//   cache_kernel: lc_cpu_kernel.hpp, each position's patches gathered in cache (CPU only).
//   patches_bmm: all patches as one (L, B, fan_in) tensor, one batched matmul.
//   naive: the plain unfold-and-multiply layer, which materialises the
//          (B, c_out, h_out, w_out, fan_in) product (benchmarks and tests).
#pragma once

namespace dynshare::trainer {

enum class LcAlgorithm { automatic, cache_kernel, patches_bmm, naive };

}  // namespace dynshare::trainer
