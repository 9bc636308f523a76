// SPDX-License-Identifier: BSD-3-Clause
// 16-byte vectors, compiled with the build's own flags (baseline x86-64 with
// SSE2, or any other CPU). Also the instruction-set choice (block_gemm.hpp).
#define DYNSHARE_BLOCK_ISA portable
#include "core/block_gemm_body.hpp"

namespace dynshare {

// Defined by block_gemm_avx2.cpp / block_gemm_avx512.cpp when the compiler
// builds them (DYNSHARE_ISA_HAVE_AVX2 / _AVX512, cmake/IsaSources.cmake).
BlockGemm<float> block_gemm_avx2_f32();
BlockGemm<double> block_gemm_avx2_f64();
BlockGemm<float> block_gemm_avx512_f32();
BlockGemm<double> block_gemm_avx512_f64();

namespace {

#include "core/simd_isa_forms.inc"

IsaChoice& choice() {
    static IsaChoice c("DYNSHARE_BLOCK_KERNEL", "block GEMMs'", kAvx2, kAvx512);
    return c;
}

// 16 xmm registers: 4 x 2 blocks.
template <class T>
BlockGemm<T> portable_table() {
    return portable::table<T, 16, 4, 2, 4, 2>("portable");
}

}  // namespace

std::vector<SimdIsa> block_isas_available() { return choice().available(); }
SimdIsa block_isa() { return choice().get(); }
void set_block_isa(SimdIsa isa) { choice().set(isa); }

template <>
BlockGemm<float> block_gemm<float>(SimdIsa isa) {
    return pick_table<BlockGemm<float>>(isa, DYNSHARE_AVX2_TABLE(block_gemm_avx2_f32),
                                 DYNSHARE_AVX512_TABLE(block_gemm_avx512_f32), portable_table<float>);
}
template <>
BlockGemm<double> block_gemm<double>(SimdIsa isa) {
    return pick_table<BlockGemm<double>>(isa, DYNSHARE_AVX2_TABLE(block_gemm_avx2_f64),
                                 DYNSHARE_AVX512_TABLE(block_gemm_avx512_f64), portable_table<double>);
}

}  // namespace dynshare
