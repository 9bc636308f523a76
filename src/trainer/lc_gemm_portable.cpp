// 16-byte vectors, compiled with the build's own flags (baseline x86-64 with
// SSE2, or any other CPU). Also the instruction-set choice (lc_gemm.hpp).
#define DYNSHARE_LC_ISA portable
#include "trainer/lc_gemm_body.hpp"

#include <atomic>

#include "dynshare/errors.hpp"

namespace dynshare::trainer {

// Defined by lc_gemm_avx2.cpp / lc_gemm_avx512.cpp when the compiler builds
// them (DYNSHARE_LC_HAVE_AVX2 / _AVX512, set by src/trainer/CMakeLists.txt).
LcGemm<float> lc_gemm_avx2_f32();
LcGemm<double> lc_gemm_avx2_f64();
LcGemm<float> lc_gemm_avx512_f32();
LcGemm<double> lc_gemm_avx512_f64();

namespace {

bool cpu_has(LcIsa isa) {
    switch (isa) {
        case LcIsa::portable: return true;
#if defined(DYNSHARE_LC_HAVE_AVX2)
        case LcIsa::avx2: return cpu_supports(isa);
#endif
#if defined(DYNSHARE_LC_HAVE_AVX512)
        case LcIsa::avx512: return cpu_supports(isa);
#endif
        default: return false;
    }
}

std::atomic<int> chosen{-1};

}  // namespace

std::vector<LcIsa> lc_isas_available() {
    std::vector<LcIsa> out;
    for (LcIsa isa : {LcIsa::portable, LcIsa::avx2, LcIsa::avx512})
        if (cpu_has(isa)) out.push_back(isa);
    return out;
}

LcIsa lc_isa() {
    int c = chosen.load();
    if (c < 0) {
        c = int(isa_from_environment("DYNSHARE_LC_KERNEL", lc_isas_available()));
        chosen.store(c);
    }
    return LcIsa(c);
}

void set_lc_isa(LcIsa isa) {
    if (!cpu_has(isa)) throw UserError(std::string("the LC kernel's ") + to_string(isa) + " form is not available here");
    chosen.store(int(isa));
}

// Blocks for 16 vector registers (SSE2 has 16 xmm).
template <>
LcGemm<float> lc_gemm<float>(LcIsa isa) {
    if (isa == LcIsa::avx2) return lc_gemm_avx2_f32();
    if (isa == LcIsa::avx512) return lc_gemm_avx512_f32();
    return portable::table<float, 16, 2, 4>("portable");
}
template <>
LcGemm<double> lc_gemm<double>(LcIsa isa) {
    if (isa == LcIsa::avx2) return lc_gemm_avx2_f64();
    if (isa == LcIsa::avx512) return lc_gemm_avx512_f64();
    return portable::table<double, 16, 2, 4>("portable");
}

}  // namespace dynshare::trainer
