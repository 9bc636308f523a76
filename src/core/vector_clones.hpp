// SPDX-License-Identifier: BSD-3-Clause
// DS_VECTOR_CLONES: a hot loop's function cloned for wider vectors where the
// CPU has them (GCC's target_clones: the clone is chosen once, at load time).
// The build is portable x86-64 (16-byte vectors). FMA contraction is off in
// the engine (cmake/CompilerOptions.cmake), so every clone does the same
// operations on each element, in the same order: the same bits. Put it on a
// non-template function whose body is an always-inline template: the
// functions that body inlines keep their portable out-of-line copies, so no
// wider code leaks to other callers. Empty under sanitizers and clang.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define DS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DS_VECTOR_CLONES
#endif
