// 16-byte vectors, compiled with the build's own flags (baseline x86-64 with
// SSE2, or any other CPU). Also the instruction-set choice (block_gemm.hpp).
#define DYNSHARE_BLOCK_ISA portable
#include "core/block_gemm_body.hpp"

#include <atomic>
#include <string>

#include "dynshare/errors.hpp"

namespace dynshare {

// Defined by block_gemm_avx2.cpp / block_gemm_avx512.cpp when the compiler
// builds them (DYNSHARE_BLOCK_HAVE_AVX2 / _AVX512, set by CMakeLists.txt).
BlockGemm<float> block_gemm_avx2_f32();
BlockGemm<double> block_gemm_avx2_f64();
BlockGemm<float> block_gemm_avx512_f32();
BlockGemm<double> block_gemm_avx512_f64();

namespace {

bool compiled_in(SimdIsa isa) {
    switch (isa) {
        case SimdIsa::portable: return true;
#if defined(DYNSHARE_BLOCK_HAVE_AVX2)
        case SimdIsa::avx2: return true;
#endif
#if defined(DYNSHARE_BLOCK_HAVE_AVX512)
        case SimdIsa::avx512: return true;
#endif
        default: return false;
    }
}

std::atomic<int> chosen{-1};

}  // namespace

std::vector<SimdIsa> block_isas_available() {
    std::vector<SimdIsa> out;
    for (SimdIsa isa : {SimdIsa::portable, SimdIsa::avx2, SimdIsa::avx512})
        if (compiled_in(isa) && cpu_supports(isa)) out.push_back(isa);
    return out;
}

SimdIsa block_isa() {
    int c = chosen.load();
    if (c < 0) {
        c = int(isa_from_environment("DYNSHARE_BLOCK_KERNEL", block_isas_available()));
        chosen.store(c);
    }
    return SimdIsa(c);
}

void set_block_isa(SimdIsa isa) {
    if (!compiled_in(isa) || !cpu_supports(isa))
        throw UserError(std::string("the block GEMMs' ") + to_string(isa) + " form is not available here");
    chosen.store(int(isa));
}

// 16 xmm registers: 4 x 2 blocks.
template <>
BlockGemm<float> block_gemm<float>(SimdIsa isa) {
#if defined(DYNSHARE_BLOCK_HAVE_AVX2)
    if (isa == SimdIsa::avx2) return block_gemm_avx2_f32();
#endif
#if defined(DYNSHARE_BLOCK_HAVE_AVX512)
    if (isa == SimdIsa::avx512) return block_gemm_avx512_f32();
#endif
    (void)isa;
    return portable::table<float, 16, 4, 2, 4, 2>("portable");
}
template <>
BlockGemm<double> block_gemm<double>(SimdIsa isa) {
#if defined(DYNSHARE_BLOCK_HAVE_AVX2)
    if (isa == SimdIsa::avx2) return block_gemm_avx2_f64();
#endif
#if defined(DYNSHARE_BLOCK_HAVE_AVX512)
    if (isa == SimdIsa::avx512) return block_gemm_avx512_f64();
#endif
    (void)isa;
    return portable::table<double, 16, 4, 2, 4, 2>("portable");
}

}  // namespace dynshare
