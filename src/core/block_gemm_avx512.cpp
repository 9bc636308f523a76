// SPDX-License-Identifier: BSD-3-Clause
// 64-byte vectors (-mavx512f, this file alone; see block_gemm_avx2.cpp for
// why the kernels live alone in their file).
#define DYNSHARE_BLOCK_ISA avx512
#include "core/block_gemm_body.hpp"

namespace dynshare {

// 32 zmm registers: the drives (N = a block of 20 to 50 presentations, 3 to 7
// vectors) in 8 x 3 blocks, the update (N = fan-in) in 4 x 2.
BlockGemm<float> block_gemm_avx512_f32() { return avx512::table<float, 64, 8, 3, 4, 2>("avx512"); }
BlockGemm<double> block_gemm_avx512_f64() { return avx512::table<double, 64, 8, 3, 4, 2>("avx512"); }

}  // namespace dynshare
