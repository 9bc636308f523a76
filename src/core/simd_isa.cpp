// SPDX-License-Identifier: BSD-3-Clause
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

bool IsaChoice::has(SimdIsa isa) const {
    const bool compiled = isa == SimdIsa::portable || (isa == SimdIsa::avx2 && avx2_) || (isa == SimdIsa::avx512 && avx512_);
    return compiled && cpu_supports(isa);
}

std::vector<SimdIsa> IsaChoice::available() const {
    std::vector<SimdIsa> out;
    for (SimdIsa isa : {SimdIsa::portable, SimdIsa::avx2, SimdIsa::avx512})
        if (has(isa)) out.push_back(isa);
    return out;
}

SimdIsa IsaChoice::get() {
    int c = chosen_.load();
    if (c < 0) {
        c = int(isa_from_environment(variable_, available()));
        chosen_.store(c);
    }
    return SimdIsa(c);
}

void IsaChoice::set(SimdIsa isa) {
    if (!has(isa)) throw UserError(std::string("the ") + family_ + " " + to_string(isa) + " form is not available here");
    chosen_.store(int(isa));
}

}  // namespace dynshare
