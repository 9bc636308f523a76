// SPDX-License-Identifier: BSD-3-Clause
#include "core/first_touch.hpp"

#include <omp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/sleep_profile.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace dynshare {

namespace {
// Off unless DYNSHARE_HUGE_PAGES=1: on the 2-core VM this was measured on,
// huge pages made population slower and erratic (1.5 GB: 0.5 to 5 s of
// system time against a steady 0.7 s with 4 KiB pages; docs/sleep_speed.md),
// likely because the host backs each freshly used 2 MiB block anew.
std::atomic<bool> g_huge_pages{[] {
    const char* e = std::getenv("DYNSHARE_HUGE_PAGES");
    return e && std::strcmp(e, "1") == 0;
}()};
}  // namespace

void set_huge_pages(bool on) { g_huge_pages.store(on); }
bool huge_pages() { return g_huge_pages.load(); }

void populate_parallel(const void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    if (!p || bytes < kPopulateMinBytes || omp_in_parallel()) return;
    const auto t0 = std::chrono::steady_clock::now();
    static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    // madvise wants a page-aligned start. Rounding down reaches into a page
    // that may hold other data: populating it changes no byte of it.
    const uintptr_t begin = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
    const uintptr_t end = reinterpret_cast<uintptr_t>(p) + bytes;
    constexpr uintptr_t chunk = uintptr_t(2) << 20;  // 2 MiB: one huge page, or 512 pages, per call
#if defined(MADV_HUGEPAGE)
    // Transparent huge pages for the whole 2 MiB pages inside the range (the
    // kernel's "madvise" mode gives them only where asked): one fault and one
    // 2 MiB clear instead of 512 faults, each a trip through the hypervisor
    // on a VM. The range's partial pages at either end keep 4 KiB pages, so
    // no byte outside it changes how it is mapped.
    if (huge_pages()) {
        const uintptr_t hb = (reinterpret_cast<uintptr_t>(p) + chunk - 1) & ~(chunk - 1);
        const uintptr_t he = end & ~(chunk - 1);
        if (he > hb) (void)madvise(reinterpret_cast<void*>(hb), he - hb, MADV_HUGEPAGE);
    }
#endif
    const int64_t chunks = static_cast<int64_t>((end - begin + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
        const uintptr_t a = begin + static_cast<uintptr_t>(c) * chunk;
        const uintptr_t len = (end - a < chunk) ? end - a : chunk;
        // Failure (EINVAL on old kernels, ENOMEM) is harmless: the first
        // writes then fault the pages in as they would have anyway.
        (void)madvise(reinterpret_cast<void*>(a), len, MADV_POPULATE_WRITE);
    }
    profile_add(SleepPhase::population, seconds_since(t0));
    profile_add_populated(static_cast<double>(bytes));
#else
    (void)p;
    (void)bytes;
#endif
}

}  // namespace dynshare
