// SPDX-License-Identifier: BSD-3-Clause
// core/first_touch.hpp: prefaulting in parallel changes no value, neither in
// the buffer nor in the data that shares its first page, and the vectors it
// prepares are what assign / reserve make.
#include <gtest/gtest.h>
#include <omp.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/first_touch.hpp"

namespace {

[[maybe_unused]] long minor_faults() {  // unused where the test that takes it is compiled out (sanitizers)
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

}  // namespace

TEST(FirstTouch, PopulatingChangesNoValue) {
    // A range that starts mid-page, inside data already written: the
    // rounded-down first page keeps its contents, and so does the range.
    std::vector<double> v(size_t(3) << 20);  // 24 MiB
    std::iota(v.begin(), v.end(), 0.5);
    const size_t skip = 1001;                // not page-aligned
    dynshare::populate_parallel(v.data() + skip, (v.size() - skip) * sizeof(double));
    for (size_t i = 0; i < v.size(); i += 997) ASSERT_EQ(v[i], static_cast<double>(i) + 0.5) << i;
    EXPECT_EQ(v.back(), static_cast<double>(v.size() - 1) + 0.5);
}

// With transparent huge pages asked for (DYNSHARE_HUGE_PAGES=1, or the
// benchmark's set_huge_pages), the same: a range that starts and ends
// mid-huge-page keeps every value, inside it and around it.
TEST(FirstTouch, HugePagesChangeNoValue) {
    const bool before = dynshare::huge_pages();
    dynshare::set_huge_pages(true);
    std::vector<double> v(size_t(5) << 20);  // 40 MiB
    std::iota(v.begin(), v.end(), -3.25);
    const size_t skip = 300001;              // about 2.3 MiB in: neither page- nor huge-page-aligned
    const size_t count = v.size() - 2 * skip;
    dynshare::populate_parallel(v.data() + skip, count * sizeof(double));
    dynshare::set_huge_pages(before);
    for (size_t i = 0; i < v.size(); i += 991) ASSERT_EQ(v[i], static_cast<double>(i) - 3.25) << i;
    EXPECT_EQ(v.back(), static_cast<double>(v.size() - 1) - 3.25);
    std::vector<float> a;
    dynshare::set_huge_pages(true);
    dynshare::assign_populated(a, size_t(3) << 20, 1.5f);
    dynshare::set_huge_pages(before);
    for (size_t i = 0; i < a.size(); i += 4099) ASSERT_EQ(a[i], 1.5f);
}

TEST(FirstTouch, PopulatedVectorsAreWhatAssignAndReserveMake) {
    for (const size_t count : {size_t(10), size_t(1) << 17, size_t(3) << 20}) {
        std::vector<float> a;
        dynshare::assign_populated(a, count, 2.5f);
        ASSERT_EQ(a.size(), count);
        for (size_t i = 0; i < count; i += 4099) ASSERT_EQ(a[i], 2.5f);
        EXPECT_EQ(a.back(), 2.5f);
        // Again with room to spare: kept, refilled.
        const float* before = a.data();
        dynshare::assign_populated(a, count / 2, -1.0f);
        EXPECT_EQ(a.size(), count / 2);
        EXPECT_EQ(a.data(), before);
        if (!a.empty()) {
            EXPECT_EQ(a.back(), -1.0f);
        }
        std::vector<double> r;
        dynshare::reserve_populated(r, count);
        EXPECT_TRUE(r.empty());
        EXPECT_GE(r.capacity(), count);
    }
}

// size_populated (buffers written before they are read): the size asked
// for, whatever was there before; a large one prefaulted, so that writing
// it all takes (almost) no fault; kept when it already has the room; and
// a value written is the value read.
TEST(FirstTouch, SizedWithoutWritingAndPrefaulted) {
    dynshare::UninitVector<double> v;
    dynshare::size_populated(v, 10);
    EXPECT_EQ(v.size(), 10u);
    const size_t count = size_t(8) << 20;  // 64 MiB
    dynshare::size_populated(v, count);
    ASSERT_EQ(v.size(), count);
#if defined(__linux__) && defined(MADV_POPULATE_WRITE) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
    {
        void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_NE(page, MAP_FAILED);
        const bool known = madvise(page, 4096, MADV_POPULATE_WRITE) == 0;
        munmap(page, 4096);
        if (known) {
            const long before = minor_faults();
            std::iota(v.begin(), v.end(), 0.25);
            const long pages = static_cast<long>(count * sizeof(double) / 4096);
            EXPECT_LT(minor_faults() - before, pages / 100);
        }
    }
#endif
    std::iota(v.begin(), v.end(), 0.25);
    for (size_t i = 0; i < count; i += 4093) ASSERT_EQ(v[i], static_cast<double>(i) + 0.25);
    const double* before = v.data();
    dynshare::size_populated(v, count / 2);  // room to spare: kept, and not rewritten
    EXPECT_EQ(v.data(), before);
    EXPECT_EQ(v.size(), count / 2);
    EXPECT_EQ(v[count / 2 - 1], static_cast<double>(count / 2 - 1) + 0.25);
}

// zero_sized: all zeros whatever the storage held before (calloc zeroes
// recycled memory; a large fresh block comes zero from the kernel), prefaulted
// or not; the old storage is released, not reused by a resize.
TEST(FirstTouch, ZeroSizedVectorsAreZeroWithoutAZeroPass) {
    for (const size_t count : {size_t(1000), size_t(4) << 20}) {  // small (heap) and 32 MiB (mmap)
        for (const bool populate : {false, true}) {
            dynshare::ZeroVector<double> v;
            dynshare::zero_sized(v, count, populate);
            ASSERT_EQ(v.size(), count);
            for (size_t i = 0; i < count; i += 511) ASSERT_EQ(v[i], 0.0) << i;
            std::iota(v.begin(), v.end(), 1.0);  // dirty it, then size it again: zeros again
            dynshare::zero_sized(v, count, populate);
            ASSERT_EQ(v.size(), count);
            for (size_t i = 0; i < count; i += 509) ASSERT_EQ(v[i], 0.0) << i;
            EXPECT_EQ(v.back(), 0.0);
            std::fill(v.begin(), v.end(), -2.0);
            dynshare::zero_sized(v, count / 2, populate);  // smaller: still all zeros
            ASSERT_EQ(v.size(), count / 2);
            for (size_t i = 0; i < count / 2; i += 257) ASSERT_EQ(v[i], 0.0) << i;
        }
    }
    // Many small blocks freed and taken again (recycled heap memory, not fresh pages).
    std::vector<dynshare::ZeroVector<float>> held(64);
    for (auto& h : held) {
        dynshare::zero_sized(h, 4096, false);
        std::fill(h.begin(), h.end(), 3.0f);
    }
    for (auto& h : held) {
        dynshare::zero_sized(h, 4096, false);
        for (float x : h) ASSERT_EQ(x, 0.0f);
    }
}

TEST(FirstTouch, APopulatedBufferIsWrittenWithoutFaults) {
#if !defined(__linux__) || !defined(MADV_POPULATE_WRITE) || defined(__SANITIZE_ADDRESS__) || \
    defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "Linux with MADV_POPULATE_WRITE only; sanitizers allocate their own way";
#else
    {  // Does this kernel know MADV_POPULATE_WRITE (5.14 and later)? Asked directly, on a page of our own.
        void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_NE(page, MAP_FAILED);
        const int rc = madvise(page, 4096, MADV_POPULATE_WRITE);
        munmap(page, 4096);
        if (rc != 0) GTEST_SKIP() << "this kernel has no MADV_POPULATE_WRITE";
    }
    constexpr size_t kCount = size_t(8) << 20;  // 64 MiB of doubles: a fresh mapping of its own
    std::vector<double> v;
    v.reserve(kCount);
    dynshare::populate_parallel(v.data(), kCount * sizeof(double));
    const long before = minor_faults();
    v.assign(kCount, 1.0);
    const long faults = minor_faults() - before;
    const long pages = static_cast<long>(kCount * sizeof(double) / 4096);
    EXPECT_LT(faults, pages / 100) << faults << " faults for " << pages << " pages";
#endif
}
