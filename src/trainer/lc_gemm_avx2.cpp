// SPDX-License-Identifier: BSD-3-Clause
// 32-byte vectors with fused multiply-add; this file alone is compiled with
// -mavx2 -mfma (src/trainer/CMakeLists.txt) and is called only when the CPU
// has both (lc_gemm_portable.cpp checks). It holds nothing but the GEMMs, so
// no inline library function compiled with AVX2 can be shared with other files.
#define DYNSHARE_LC_ISA avx2
#include "trainer/lc_gemm_body.hpp"

namespace dynshare::trainer {

// Blocks for 16 vector registers (AVX2 has 16 ymm).
LcGemm<float> lc_gemm_avx2_f32() { return avx2::table<float, 32, 2, 4>("avx2"); }
LcGemm<double> lc_gemm_avx2_f64() { return avx2::table<double, 32, 2, 4>("avx2"); }

}  // namespace dynshare::trainer
