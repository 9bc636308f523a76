// SPDX-License-Identifier: BSD-3-Clause
#include "app/heap_policy.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

extern char** environ;

namespace dynshare::app {

namespace {
// The user's own malloc settings win: glibc reads them at start-up, and a
// mallopt() here would override them.
[[maybe_unused]] bool user_tuned_malloc() {  // unused where the policy is compiled out (sanitizers, not glibc)
    if (std::getenv("GLIBC_TUNABLES")) return true;
    for (char** e = environ; e && *e; ++e)
        if (!std::strncmp(*e, "MALLOC_", 7) && std::strchr(*e, '=') && std::strchr(*e, '=')[-1] == '_') return true;
    return false;
}

bool g_policy_applied = false;  // keep_freed_memory() took effect
}  // namespace

bool keep_freed_memory() {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    if (user_tuned_malloc()) return false;
    // Blocks up to 32 MiB (the most M_MMAP_THRESHOLD takes) come from the
    // heap, and M_TRIM_THRESHOLD -1 never shrinks the heap's top on free.
    // Larger blocks keep their own mappings: served from the heap too
    // (M_MMAP_MAX 0), LibTorch's activations fragmented it and one CI run's
    // peak grew from 0.8 to 1.3 GB.
    g_policy_applied = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1;
    return g_policy_applied;
#else
    return false;
#endif
}

LargeBlocksFromHeap::LargeBlocksFromHeap() {
#if defined(__GLIBC__)
    active_ = g_policy_applied && mallopt(M_MMAP_MAX, 0) == 1;
#endif
}

LargeBlocksFromHeap::~LargeBlocksFromHeap() {
#if defined(__GLIBC__)
    // glibc's default (DEFAULT_MMAP_MAX); the policy never changes it, and
    // with the user's own settings the scope does nothing.
    if (active_) mallopt(M_MMAP_MAX, 65536);
#endif
}

}  // namespace dynshare::app
