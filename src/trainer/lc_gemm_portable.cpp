// SPDX-License-Identifier: BSD-3-Clause
// 16-byte vectors, compiled with the build's own flags (baseline x86-64 with
// SSE2, or any other CPU). Also the instruction-set choice (lc_gemm.hpp).
#define DYNSHARE_LC_ISA portable
#include "trainer/lc_gemm_body.hpp"

namespace dynshare::trainer {

// Defined by lc_gemm_avx2.cpp / lc_gemm_avx512.cpp when the compiler builds
// them (DYNSHARE_ISA_HAVE_AVX2 / _AVX512, cmake/IsaSources.cmake).
LcGemm<float> lc_gemm_avx2_f32();
LcGemm<double> lc_gemm_avx2_f64();
LcGemm<float> lc_gemm_avx512_f32();
LcGemm<double> lc_gemm_avx512_f64();

namespace {

#include "core/simd_isa_forms.inc"

IsaChoice& choice() {
    static IsaChoice c("DYNSHARE_LC_KERNEL", "LC kernel's", kAvx2, kAvx512);
    return c;
}

// Blocks for 16 vector registers (SSE2 has 16 xmm).
template <class T>
LcGemm<T> portable_table() {
    return portable::table<T, 16, 2, 4>("portable");
}

}  // namespace

std::vector<LcIsa> lc_isas_available() { return choice().available(); }
LcIsa lc_isa() { return choice().get(); }
void set_lc_isa(LcIsa isa) { choice().set(isa); }

template <>
LcGemm<float> lc_gemm<float>(LcIsa isa) {
    return pick_table<LcGemm<float>>(isa, DYNSHARE_AVX2_TABLE(lc_gemm_avx2_f32),
                                 DYNSHARE_AVX512_TABLE(lc_gemm_avx512_f32), portable_table<float>);
}
template <>
LcGemm<double> lc_gemm<double>(LcIsa isa) {
    return pick_table<LcGemm<double>>(isa, DYNSHARE_AVX2_TABLE(lc_gemm_avx2_f64),
                                 DYNSHARE_AVX512_TABLE(lc_gemm_avx512_f64), portable_table<double>);
}

}  // namespace dynshare::trainer
