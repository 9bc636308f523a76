// 16-byte vectors, compiled with the build's own flags (baseline x86-64 with
// SSE2, or any other CPU). Also the instruction-set choice (block_gemm.hpp).
#define DYNSHARE_BLOCK_ISA portable
#include "core/block_gemm_body.hpp"

namespace dynshare {

// Defined by block_gemm_avx2.cpp / block_gemm_avx512.cpp when the compiler
// builds them (DYNSHARE_BLOCK_HAVE_AVX2 / _AVX512, set by CMakeLists.txt).
BlockGemm<float> block_gemm_avx2_f32();
BlockGemm<double> block_gemm_avx2_f64();
BlockGemm<float> block_gemm_avx512_f32();
BlockGemm<double> block_gemm_avx512_f64();

namespace {

// The forms compiled in: their table functions, or null (never linked).
#if defined(DYNSHARE_BLOCK_HAVE_AVX2)
constexpr bool kAvx2 = true;
#define DYNSHARE_AVX2_TABLE(f) &f
#else
constexpr bool kAvx2 = false;
#define DYNSHARE_AVX2_TABLE(f) nullptr
#endif
#if defined(DYNSHARE_BLOCK_HAVE_AVX512)
constexpr bool kAvx512 = true;
#define DYNSHARE_AVX512_TABLE(f) &f
#else
constexpr bool kAvx512 = false;
#define DYNSHARE_AVX512_TABLE(f) nullptr
#endif

IsaChoice& choice() {
    static IsaChoice c("DYNSHARE_BLOCK_KERNEL", "block GEMMs'", kAvx2, kAvx512);
    return c;
}

// The table of isa, or portable's (a form not compiled in is never chosen).
template <class T>
BlockGemm<T> pick(SimdIsa isa, BlockGemm<T> (*avx2)(), BlockGemm<T> (*avx512)()) {
    if (isa == SimdIsa::avx2 && avx2) return avx2();
    if (isa == SimdIsa::avx512 && avx512) return avx512();
    // 16 xmm registers: 4 x 2 blocks.
    return portable::table<T, 16, 4, 2, 4, 2>("portable");
}

}  // namespace

std::vector<SimdIsa> block_isas_available() { return choice().available(); }
SimdIsa block_isa() { return choice().get(); }
void set_block_isa(SimdIsa isa) { choice().set(isa); }

template <>
BlockGemm<float> block_gemm<float>(SimdIsa isa) {
    return pick<float>(isa, DYNSHARE_AVX2_TABLE(block_gemm_avx2_f32), DYNSHARE_AVX512_TABLE(block_gemm_avx512_f32));
}
template <>
BlockGemm<double> block_gemm<double>(SimdIsa isa) {
    return pick<double>(isa, DYNSHARE_AVX2_TABLE(block_gemm_avx2_f64), DYNSHARE_AVX512_TABLE(block_gemm_avx512_f64));
}

}  // namespace dynshare
