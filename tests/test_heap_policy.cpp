// The heap policy both programs set first (src/cli/heap_policy.cpp): a large
// block freed and requested again reuses its pages instead of faulting in
// fresh zero-filled ones; the user's own malloc settings are left alone.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <cstring>

#include "cli/heap_policy.hpp"

namespace {

long minor_faults() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

// Keeps the compiler from eliding a malloc/memset/free round as dead code.
void escape(void* p) { asm volatile("" : : "r"(p) : "memory"); }

// Faults taken while a fresh `bytes` block is written once, freed, then
// requested and written again (the second round only).
long faults_of_a_second_round(size_t bytes) {
    char* a = static_cast<char*>(std::malloc(bytes));
    std::memset(a, 1, bytes);
    escape(a);
    std::free(a);
    const long before = minor_faults();
    char* b = static_cast<char*>(std::malloc(bytes));
    std::memset(b, 2, bytes);
    escape(b);
    std::free(b);
    return minor_faults() - before;
}

}  // namespace

TEST(HeapPolicy, FreedLargeBlocksAreReusedNotFaultedInAgain) {
    constexpr size_t kBytes = size_t(256) << 20;  // above glibc's largest mmap threshold
    const long pages = long(kBytes / 4096);
    // Without the policy glibc maps and unmaps the block: every page faults.
    const long without = faults_of_a_second_round(kBytes);
    if (!dynshare::cli::keep_freed_memory())
        GTEST_SKIP() << "not glibc's malloc here (a sanitizer build) or MALLOC_*_/GLIBC_TUNABLES set";
    EXPECT_GT(without, pages / 2) << "the default allocator should fault the block in again";
    // Warm the heap once (its first growth faults), then the same round again.
    faults_of_a_second_round(kBytes);
    const long with = faults_of_a_second_round(kBytes);
    EXPECT_LT(with, pages / 100) << with << " faults for " << pages << " pages";
}

TEST(HeapPolicy, TheUsersMallocSettingsWin) {
    ASSERT_EQ(setenv("MALLOC_ARENA_MAX_", "2", 1), 0);  // glibc's spelling ends in '_'
    EXPECT_FALSE(dynshare::cli::keep_freed_memory());
    unsetenv("MALLOC_ARENA_MAX_");
    ASSERT_EQ(setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0", 1), 0);
    EXPECT_FALSE(dynshare::cli::keep_freed_memory());
    unsetenv("GLIBC_TUNABLES");
}
