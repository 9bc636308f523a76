// 16-byte vectors, compiled with the build's own flags (baseline x86-64 with
// SSE2, or any other CPU). Also the instruction-set choice (lc_gemm.hpp).
#define DYNSHARE_LC_ISA portable
#include "trainer/lc_gemm_body.hpp"

namespace dynshare::trainer {

// Defined by lc_gemm_avx2.cpp / lc_gemm_avx512.cpp when the compiler builds
// them (DYNSHARE_LC_HAVE_AVX2 / _AVX512, set by src/trainer/CMakeLists.txt).
LcGemm<float> lc_gemm_avx2_f32();
LcGemm<double> lc_gemm_avx2_f64();
LcGemm<float> lc_gemm_avx512_f32();
LcGemm<double> lc_gemm_avx512_f64();

namespace {

// The forms compiled in: their table functions, or null (never linked).
#if defined(DYNSHARE_LC_HAVE_AVX2)
constexpr bool kAvx2 = true;
#define DYNSHARE_AVX2_TABLE(f) &f
#else
constexpr bool kAvx2 = false;
#define DYNSHARE_AVX2_TABLE(f) nullptr
#endif
#if defined(DYNSHARE_LC_HAVE_AVX512)
constexpr bool kAvx512 = true;
#define DYNSHARE_AVX512_TABLE(f) &f
#else
constexpr bool kAvx512 = false;
#define DYNSHARE_AVX512_TABLE(f) nullptr
#endif

IsaChoice& choice() {
    static IsaChoice c("DYNSHARE_LC_KERNEL", "LC kernel's", kAvx2, kAvx512);
    return c;
}

// The table of isa, or portable's (a form not compiled in is never chosen).
template <class T>
LcGemm<T> pick(LcIsa isa, LcGemm<T> (*avx2)(), LcGemm<T> (*avx512)()) {
    if (isa == LcIsa::avx2 && avx2) return avx2();
    if (isa == LcIsa::avx512 && avx512) return avx512();
    // Blocks for 16 vector registers (SSE2 has 16 xmm).
    return portable::table<T, 16, 2, 4>("portable");
}

}  // namespace

std::vector<LcIsa> lc_isas_available() { return choice().available(); }
LcIsa lc_isa() { return choice().get(); }
void set_lc_isa(LcIsa isa) { choice().set(isa); }

template <>
LcGemm<float> lc_gemm<float>(LcIsa isa) {
    return pick<float>(isa, DYNSHARE_AVX2_TABLE(lc_gemm_avx2_f32), DYNSHARE_AVX512_TABLE(lc_gemm_avx512_f32));
}
template <>
LcGemm<double> lc_gemm<double>(LcIsa isa) {
    return pick<double>(isa, DYNSHARE_AVX2_TABLE(lc_gemm_avx2_f64), DYNSHARE_AVX512_TABLE(lc_gemm_avx512_f64));
}

}  // namespace dynshare::trainer
