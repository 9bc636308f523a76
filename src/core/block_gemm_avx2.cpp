// SPDX-License-Identifier: BSD-3-Clause
// 32-byte vectors with fused multiply-add; this file alone is compiled with
// -mavx2 -mfma (CMakeLists.txt) and is called only when the CPU has both
// (block_gemm_portable.cpp checks). It holds nothing but the kernels, so no
// inline library function compiled with AVX2 can be shared with other files.
#define DYNSHARE_BLOCK_ISA avx2
#include "core/block_gemm_body.hpp"

namespace dynshare {

// 16 ymm registers: 4 x 3 blocks (12 accumulators), measured fastest for
// both shapes on an AMD EPYC (bench: dynshare bench --sleep).
BlockGemm<float> block_gemm_avx2_f32() { return avx2::table<float, 32, 4, 3, 4, 3>("avx2"); }
BlockGemm<double> block_gemm_avx2_f64() { return avx2::table<double, 32, 4, 3, 4, 3>("avx2"); }

}  // namespace dynshare
