// SPDX-License-Identifier: BSD-3-Clause
// 64-byte vectors; this file alone is compiled with -mavx512f (see
// lc_gemm_avx2.cpp for why the GEMMs live alone in their file).
#define DYNSHARE_LC_ISA avx512
#include "trainer/lc_gemm_body.hpp"

namespace dynshare::trainer {

// Blocks for 32 vector registers (AVX-512 has 32 zmm).
LcGemm<float> lc_gemm_avx512_f32() { return avx512::table<float, 64, 4, 4>("avx512"); }
LcGemm<double> lc_gemm_avx512_f64() { return avx512::table<double, 64, 4, 4>("avx512"); }

}  // namespace dynshare::trainer
