// SPDX-License-Identifier: BSD-3-Clause
// Large buffers faulted in by every thread at once. The first write to a
// fresh page costs a page fault in which the kernel zero-fills it; a
// std::vector's assign or resize makes the allocating thread alone take all
// of them. The ResNet-20 sleep phase at block 40 spent about a fifth of its
// wall time there (1.8 GB of weights, copies and block buffers, on a VM
// where first touches are dear) while the other thread waited.
// populate_parallel() prefaults a range with madvise(MADV_POPULATE_WRITE),
// one chunk per thread: the pages are mapped, zero-filled, and no byte is
// written. Where that is not available (not Linux, a kernel before 5.14) it
// does nothing, and the first writes fault as before. Values and results
// never depend on it. Where asked (set_huge_pages, DYNSHARE_HUGE_PAGES=1) and
// the kernel gives transparent huge pages on request (its "madvise" mode),
// the range's whole 2 MiB pages are asked for as such first
// (docs/sleep_speed.md has the measurements).
#pragma once
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace dynshare {

// Buffers below this many bytes are left alone: a thread team's start costs
// microseconds, a MiB's 256 first touches a few hundred.
constexpr size_t kPopulateMinBytes = size_t(1) << 20;

void populate_parallel(const void* p, size_t bytes);

// Whether populate_parallel asks for transparent huge pages
// (madvise(MADV_HUGEPAGE)) first: off unless the environment has
// DYNSHARE_HUGE_PAGES=1; `dynshare bench --sleep` turns it on in one child
// to measure what it saves or costs on the machine at hand.
void set_huge_pages(bool on);
bool huge_pages();

// v.assign(count, value), with v's storage prefaulted in parallel first when
// it is large and must be allocated afresh (the bytes of memory it held are
// released first, so the peak is not raised).
template <class T>
void assign_populated(std::vector<T>& v, size_t count, const T& value) {
    if (count * sizeof(T) >= kPopulateMinBytes && v.capacity() < count) {
        std::vector<T>().swap(v);
        v.reserve(count);
        populate_parallel(v.data(), count * sizeof(T));
    }
    v.assign(count, value);
}

// An allocator whose value-initialisation does nothing: a vector of it can
// be sized without writing every element, for buffers that are always
// written before they are read (the blocked path's drives, coefficients and
// inputs). Fresh pages come zero-filled from the kernel anyway; a second,
// serial zero pass over them would be a write of the whole buffer by one thread.
template <class T>
struct UninitAllocator : std::allocator<T> {
    template <class U>
    struct rebind {
        using other = UninitAllocator<U>;
    };
    UninitAllocator() = default;
    template <class U>
    UninitAllocator(const UninitAllocator<U>&) noexcept {}
    template <class U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U;  // default-initialisation: no write for arithmetic types
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};

template <class T>
using UninitVector = std::vector<T, UninitAllocator<T>>;

// v sized to count, prefaulted in parallel when large and allocated afresh,
// and not written: its elements' values are unspecified until the caller writes them.
template <class T>
void size_populated(UninitVector<T>& v, size_t count) {
    if (count * sizeof(T) >= kPopulateMinBytes && v.capacity() < count) {
        UninitVector<T>().swap(v);
        v.reserve(count);
        populate_parallel(v.data(), count * sizeof(T));
    }
    v.resize(count);
}

// An allocator whose memory comes zeroed from calloc, and whose
// value-initialisation does nothing: a vector of it sized afresh is all zeros
// without a zero pass. calloc skips the memset for memory fresh from the
// kernel (already zero), and zeroes recycled memory itself. Pages never
// written are never faulted in as private pages: reading them maps the
// kernel's zero page. For the layers' momentum v, zero at the start of a run
// and, in the continuous form, never written (docs/sleep_speed.md). Size a
// ZeroVector only with zero_sized (a resize within the capacity would not zero).
template <class T>
struct ZeroAllocator {
    using value_type = T;
    template <class U>
    struct rebind {
        using other = ZeroAllocator<U>;
    };
    ZeroAllocator() = default;
    template <class U>
    ZeroAllocator(const ZeroAllocator<U>&) noexcept {}
    T* allocate(size_t count) {
        void* p = std::calloc(count, sizeof(T));
        if (!p) throw std::bad_alloc();
        return static_cast<T*>(p);
    }
    void deallocate(T* p, size_t) noexcept { std::free(p); }
    template <class U>
    void construct(U*) noexcept {}  // value-initialisation: calloc's zeros
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
    template <class U>
    bool operator==(const ZeroAllocator<U>&) const noexcept {
        return true;
    }
    template <class U>
    bool operator!=(const ZeroAllocator<U>&) const noexcept {
        return false;
    }
};

template <class T>
using ZeroVector = std::vector<T, ZeroAllocator<T>>;

// v replaced by count zeros in fresh storage (the old storage released
// first, so the peak is not raised); prefaulted in parallel when large and
// `populate` (memory that will be written soon), else left unfaulted.
template <class T>
void zero_sized(ZeroVector<T>& v, size_t count, bool populate) {
    ZeroVector<T>().swap(v);
    ZeroVector<T>(count).swap(v);
    if (populate && count * sizeof(T) >= kPopulateMinBytes) populate_parallel(v.data(), count * sizeof(T));
}

// v.reserve(count) for a caller that fills v next, prefaulted likewise.
template <class T>
void reserve_populated(std::vector<T>& v, size_t count) {
    if (v.capacity() >= count) return;
    v.reserve(count);
    if (count * sizeof(T) >= kPopulateMinBytes) populate_parallel(v.data(), count * sizeof(T));
}

}  // namespace dynshare
