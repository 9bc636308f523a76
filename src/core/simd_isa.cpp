#include "core/simd_isa.hpp"

#include <cstdlib>
#include <string>

#include "dynshare/errors.hpp"

namespace dynshare {

const char* to_string(SimdIsa isa) {
    switch (isa) {
        case SimdIsa::portable: return "portable";
        case SimdIsa::avx2: return "avx2";
        case SimdIsa::avx512: return "avx512";
    }
    return "?";
}

bool cpu_supports(SimdIsa isa) {
    switch (isa) {
        case SimdIsa::portable: return true;
#if defined(__x86_64__) || defined(__i386__)
        case SimdIsa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case SimdIsa::avx512: return __builtin_cpu_supports("avx512f");
#else
        default: return false;
#endif
    }
    return false;
}

SimdIsa isa_from_environment(const char* variable, const std::vector<SimdIsa>& have) {
    const char* env = std::getenv(variable);
    if (!env || !*env || std::string(env) == "auto") return have.back();
    std::string allowed = "auto";
    for (SimdIsa isa : have) {
        if (env == std::string(to_string(isa))) return isa;
        allowed += std::string(", ") + to_string(isa);
    }
    throw UserError(std::string(variable) + "=" + env + ": allowed values on this machine are " + allowed);
}

}  // namespace dynshare
