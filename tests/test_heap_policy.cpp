// SPDX-License-Identifier: BSD-3-Clause
// The heap policy both programs set first (src/app/heap_policy.cpp): a large
// block freed and requested again reuses its pages instead of faulting in
// fresh zero-filled ones; the user's own malloc settings are left alone.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "app/heap_policy.hpp"

namespace {

long minor_faults() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

// Keeps the compiler from eliding a malloc/memset/free round as dead code.
void escape(void* p) { asm volatile("" : : "r"(p) : "memory"); }

// Faults taken while `count` blocks of `bytes` are requested, written and
// freed (the shape of a sleep phase's buffers).
long faults_of_a_round(size_t bytes, int count) {
    std::vector<char*> blocks;
    const long before = minor_faults();
    for (int i = 0; i < count; ++i) {
        blocks.push_back(static_cast<char*>(std::malloc(bytes)));
        std::memset(blocks.back(), 1 + i, bytes);
        escape(blocks.back());
    }
    for (char* p : blocks) std::free(p);
    return minor_faults() - before;
}

}  // namespace

TEST(HeapPolicy, FreedLargeBlocksAreReusedNotFaultedInAgain) {
    constexpr size_t kBytes = size_t(16) << 20;  // 8 x 16 MiB: 128 MiB, above glibc's largest trim threshold
    constexpr int kCount = 8;
    const long pages = long(kBytes / 4096) * kCount;
    // Without the policy glibc trims the freed top of the heap: each round
    // faults its pages in again (the first rounds also move its thresholds).
    faults_of_a_round(kBytes, kCount);
    faults_of_a_round(kBytes, kCount);
    const long without = faults_of_a_round(kBytes, kCount);
    if (!dynshare::app::keep_freed_memory())
        GTEST_SKIP() << "not glibc's malloc here (a sanitizer build) or MALLOC_*_/GLIBC_TUNABLES set";
    EXPECT_GT(without, pages / 2) << "the default allocator should fault the blocks in again";
    faults_of_a_round(kBytes, kCount);  // the heap grows once
    const long with = faults_of_a_round(kBytes, kCount);
    EXPECT_LT(with, pages / 100) << with << " faults for " << pages << " pages";
}

TEST(HeapPolicy, TheUsersMallocSettingsWin) {
    ASSERT_EQ(setenv("MALLOC_ARENA_MAX_", "2", 1), 0);  // glibc's spelling ends in '_'
    EXPECT_FALSE(dynshare::app::keep_freed_memory());
    unsetenv("MALLOC_ARENA_MAX_");
    ASSERT_EQ(setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0", 1), 0);
    EXPECT_FALSE(dynshare::app::keep_freed_memory());
    unsetenv("GLIBC_TUNABLES");
}

// Blocks above 32 MiB keep their own mappings outside a LargeBlocksFromHeap
// scope (each round maps and faults them in afresh); inside one they come
// from the heap and a second round reuses the first one's pages. After the
// scope, blocks that no freed chunk fits are mapped again. Each size exceeds
// the heap's free bytes (earlier tests in this process may have left some),
// so no freed chunk can serve it.
TEST(HeapPolicy, LargeBlocksInAScopeAreReusedNotMappedAgain) {
    if (!dynshare::app::keep_freed_memory())
        GTEST_SKIP() << "not glibc's malloc here (a sanitizer build) or MALLOC_*_/GLIBC_TUNABLES set";
    auto beyond_free = [] { return mallinfo2().fordblks + (size_t(64) << 20); };
    auto pages = [](size_t bytes) { return long(bytes / 4096); };
    const size_t outside = beyond_free();
    faults_of_a_round(outside, 1);
    EXPECT_GT(faults_of_a_round(outside, 1), pages(outside) / 2) << "outside the scope: mapped afresh";
    {
        const dynshare::app::LargeBlocksFromHeap scope;
        const size_t inside = beyond_free();
        faults_of_a_round(inside, 1);  // the heap grows once
        const long with = faults_of_a_round(inside, 1);
        EXPECT_LT(with, pages(inside) / 100) << with << " faults for " << pages(inside) << " pages";
    }
    const size_t after = beyond_free();
    faults_of_a_round(after, 1);
    EXPECT_GT(faults_of_a_round(after, 1), pages(after) / 2) << "after the scope: mapped afresh again";
}
