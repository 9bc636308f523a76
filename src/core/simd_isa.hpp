// SPDX-License-Identifier: BSD-3-Clause
// The x86 instruction sets that dynshare's hand-vectorised kernels are
// compiled for (each kernel family once per set, in its own file), and the
// choice among them at run time: the CPU's features, or an environment
// variable naming one (to compare runs made on different CPUs bit for bit).
// Used by the blocked presentations' GEMMs (core/block_gemm.hpp) and the
// trainer's LC kernel (trainer/lc_gemm.hpp).
#pragma once
#include <atomic>
#include <vector>

namespace dynshare {

enum class SimdIsa { portable, avx2, avx512 };

const char* to_string(SimdIsa isa);
// Whether this CPU can run code built for isa (portable: always). Says
// nothing about whether a kernel family was compiled for it.
bool cpu_supports(SimdIsa isa);
// The set the environment variable `variable` names among `have` (compiled
// in and supported, narrowest first, portable always): unset, empty or
// "auto" -> the widest; a name not in `have` -> UserError naming the
// variable and the allowed values.
SimdIsa isa_from_environment(const char* variable, const std::vector<SimdIsa>& have);

// One kernel family's choice of instruction set: the forms compiled in
// (portable always), those the CPU also runs, and the one in use, read from
// the environment variable once unless set() chose it.
class IsaChoice {
public:
    // family: how errors name it, possessive ("block GEMMs'").
    IsaChoice(const char* variable, const char* family, bool avx2_compiled, bool avx512_compiled)
        : variable_(variable), family_(family), avx2_(avx2_compiled), avx512_(avx512_compiled) {}
    // Compiled in and supported by this CPU, narrowest first.
    std::vector<SimdIsa> available() const;
    bool has(SimdIsa isa) const;
    SimdIsa get();
    void set(SimdIsa isa);  // throws UserError naming the family if the form is not available

private:
    const char* variable_;
    const char* family_;
    bool avx2_, avx512_;
    std::atomic<int> chosen_{-1};
};

// A kernel family's table for `isa`: the form's own table function where it
// was compiled in (non-null; see simd_isa_forms.inc), else the portable
// form's (IsaChoice never chooses a form that was not compiled in).
template <class Table>
Table pick_table(SimdIsa isa, Table (*avx2)(), Table (*avx512)(), Table (*portable)()) {
    if (isa == SimdIsa::avx2 && avx2) return avx2();
    if (isa == SimdIsa::avx512 && avx512) return avx512();
    return portable();
}

}  // namespace dynshare
