#include "cli/heap_policy.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

extern char** environ;

namespace dynshare::cli {

namespace {
// The user's own malloc settings win: glibc reads them at start-up, and a
// mallopt() here would override them.
bool user_tuned_malloc() {
    if (std::getenv("GLIBC_TUNABLES")) return true;
    for (char** e = environ; e && *e; ++e)
        if (!std::strncmp(*e, "MALLOC_", 7) && std::strchr(*e, '=') && std::strchr(*e, '=')[-1] == '_') return true;
    return false;
}
}  // namespace

bool keep_freed_memory() {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    if (user_tuned_malloc()) return false;
    // M_MMAP_MAX 0: no block is served by its own mmap (M_MMAP_THRESHOLD
    // cannot be raised above 32 MiB, and the engine's arrays are larger);
    // threads' arenas still map what their 64 MiB heaps cannot hold.
    // M_TRIM_THRESHOLD -1: never shrink the heap's top on free.
    return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1;
#else
    return false;
#endif
}

}  // namespace dynshare::cli
