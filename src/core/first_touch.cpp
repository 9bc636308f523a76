// SPDX-License-Identifier: BSD-3-Clause
#include "core/first_touch.hpp"

#include <omp.h>

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace dynshare {

void populate_parallel(const void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    if (!p || bytes < kPopulateMinBytes || omp_in_parallel()) return;
    static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    // madvise wants a page-aligned start. Rounding down reaches into a page
    // that may hold other data: populating it changes no byte of it.
    const uintptr_t begin = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
    const uintptr_t end = reinterpret_cast<uintptr_t>(p) + bytes;
    constexpr uintptr_t chunk = uintptr_t(2) << 20;  // 2 MiB: 512 pages per call
    const int64_t chunks = static_cast<int64_t>((end - begin + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
        const uintptr_t a = begin + static_cast<uintptr_t>(c) * chunk;
        const uintptr_t len = (end - a < chunk) ? end - a : chunk;
        // Failure (EINVAL on old kernels, ENOMEM) is harmless: the first
        // writes then fault the pages in as they would have anyway.
        (void)madvise(reinterpret_cast<void*>(a), len, MADV_POPULATE_WRITE);
    }
#else
    (void)p;
    (void)bytes;
#endif
}

}  // namespace dynshare
