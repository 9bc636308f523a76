// 16-byte vectors, compiled with the build's own flags (baseline x86-64 with
// SSE2, or any other CPU). Also the instruction-set choice (lc_gemm.hpp).
#define DYNSHARE_LC_ISA portable
#include "trainer/lc_gemm_body.hpp"

#include <atomic>
#include <cstdlib>

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
        case LcIsa::avx2:
#if defined(DYNSHARE_LC_HAVE_AVX2)
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
            return false;
#endif
        case LcIsa::avx512:
#if defined(DYNSHARE_LC_HAVE_AVX512)
            return __builtin_cpu_supports("avx512f");
#else
            return false;
#endif
    }
    return false;
}

LcIsa from_environment() {
    const std::vector<LcIsa> have = lc_isas_available();
    const char* env = std::getenv("DYNSHARE_LC_KERNEL");
    if (!env || !*env || std::string(env) == "auto") return have.back();
    std::string allowed = "auto";
    for (LcIsa isa : have) {
        if (env == std::string(to_string(isa))) return isa;
        allowed += std::string(", ") + to_string(isa);
    }
    throw UserError(std::string("DYNSHARE_LC_KERNEL=") + env + ": allowed values on this machine are " + allowed);
}

std::atomic<int> chosen{-1};

}  // namespace

const char* to_string(LcIsa isa) {
    switch (isa) {
        case LcIsa::portable: return "portable";
        case LcIsa::avx2: return "avx2";
        case LcIsa::avx512: return "avx512";
    }
    return "?";
}

std::vector<LcIsa> lc_isas_available() {
    std::vector<LcIsa> out;
    for (LcIsa isa : {LcIsa::portable, LcIsa::avx2, LcIsa::avx512})
        if (cpu_has(isa)) out.push_back(isa);
    return out;
}

LcIsa lc_isa() {
    int c = chosen.load();
    if (c < 0) {
        c = int(from_environment());
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
