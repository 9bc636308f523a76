// SPDX-License-Identifier: BSD-3-Clause
// io/durable_output: the named output is never modified in place, appears
// only at a publish, keeps an existing file without --overwrite, and stays a
// readable, self-consistent HDF5 file whenever the writing process is killed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "dynshare/errors.hpp"
#include "io/durable_output.hpp"
#include "io/h5.hpp"
#include "test_helpers.hpp"

using namespace dynshare;
namespace fs = std::filesystem;

namespace {

std::string bytes_of(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

ino_t inode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_ino;
}

int64_t read_counter(const std::string& path) {
    h5::Handle f = h5::open_file(path, h5::Mode::read_only);
    return h5::attr_int(f.id(), "counter");
}

// Files in `dir` other than the named ones (working copies, partial copies).
std::vector<std::string> others(const TempDir& dir, const std::vector<std::string>& named) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir.path)) {
        const std::string name = e.path().filename().string();
        if (std::find(named.begin(), named.end(), name) == named.end()) out.push_back(name);
    }
    return out;
}

}  // namespace

TEST(DurableOutput, TheNameAppearsAtThePublishAndIsNeverModifiedInPlace) {
    TempDir dir;
    const std::string out = dir.file("x.h5");
    DurableOutput d(out, false);
    h5::set_attr(d.id(), "counter", int64_t{1});
    H5Fflush(d.id(), H5F_SCOPE_GLOBAL);
    EXPECT_FALSE(fs::exists(out)) << "the output appeared before it was published";
    d.publish(true);
    ASSERT_EQ(read_counter(out), 1);
    const std::string published = bytes_of(out);
    const ino_t inode = inode_of(out);

    // Changed and flushed in the working copy: the published file is untouched.
    h5::set_attr(d.id(), "counter", int64_t{2});
    h5::write(d.id(), "data", std::vector<double>(1000, 0.5), {1000});
    H5Fflush(d.id(), H5F_SCOPE_GLOBAL);
    EXPECT_EQ(bytes_of(out), published);
    EXPECT_EQ(inode_of(out), inode);

    d.publish(true);
    EXPECT_EQ(read_counter(out), 2);
    EXPECT_NE(inode_of(out), inode) << "a publish must replace the file (rename), not write into it";
}

TEST(DurableOutput, AnExistingFileIsKeptWithoutOverwriteAndUntilThePublish) {
    TempDir dir;
    const std::string out = dir.file("x.h5");
    { std::ofstream(out) << "an earlier result\n"; }
    EXPECT_THROW(DurableOutput(out, false), UserError);
    {
        DurableOutput d(out, true);
        h5::set_attr(d.id(), "counter", int64_t{7});
        H5Fflush(d.id(), H5F_SCOPE_GLOBAL);
        EXPECT_EQ(bytes_of(out), "an earlier result\n");
    }  // destroyed unpublished, as after an error
    EXPECT_EQ(bytes_of(out), "an earlier result\n");
    EXPECT_EQ(others(dir, {"x.h5"}), std::vector<std::string>{}) << "the working copy was left behind";
    {
        DurableOutput d(out, true);
        h5::set_attr(d.id(), "counter", int64_t{7});
        d.publish(true);
    }
    EXPECT_EQ(read_counter(out), 7);
    EXPECT_EQ(others(dir, {"x.h5"}), std::vector<std::string>{});
}

TEST(DurableOutput, ResumeContinuesACopy) {
    TempDir dir;
    const std::string out = dir.file("x.h5");
    {
        DurableOutput d(out, false);
        h5::set_attr(d.id(), "counter", int64_t{1});
        d.publish(true);
    }
    const ino_t inode = inode_of(out);
    {
        const auto d = DurableOutput::resume(out);
        EXPECT_EQ(h5::attr_int(d->id(), "counter"), 1);
        h5::set_attr(d->id(), "counter", int64_t{2});
        H5Fflush(d->id(), H5F_SCOPE_GLOBAL);
        EXPECT_EQ(read_counter(out), 1);
        EXPECT_EQ(inode_of(out), inode);
        d->publish(true);
        EXPECT_EQ(read_counter(out), 2);
    }
    EXPECT_EQ(others(dir, {"x.h5"}), std::vector<std::string>{});
    EXPECT_THROW(DurableOutput::resume(dir.file("missing.h5")), UserError);
    { std::ofstream(dir.file("text.h5")) << "not HDF5\n"; }
    try {
        DurableOutput::resume(dir.file("text.h5"));
        FAIL() << "a text file was resumed";
    } catch (const UserError& e) {
        EXPECT_NE(std::string(e.what()).find("text.h5"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("work"), std::string::npos) << "names the copy: " << e.what();
    }
}

TEST(DurableOutput, AnUnforcedPublishRightAfterAnotherIsSkipped) {
    TempDir dir;
    DurableOutput d(dir.file("x.h5"), false);
    h5::write(d.id(), "data", std::vector<double>(100000, 1.0), {100000});
    d.publish(false);  // the first publish is never skipped
    EXPECT_EQ(d.publishes(), 1);
    d.publish(false);  // within 9x the cost of the last one
    EXPECT_EQ(d.publishes(), 1);
    d.publish(true);
    EXPECT_EQ(d.publishes(), 2);
}

TEST(DurableOutput, TheLastPublishRenamesTheClosedWorkingCopy) {
    TempDir dir;
    const std::string out = dir.file("x.h5");
    {
        DurableOutput d(out, false);
        h5::set_attr(d.id(), "counter", int64_t{1});
        d.publish(true);
        const ino_t published = inode_of(out);
        h5::set_attr(d.id(), "counter", int64_t{2});
        h5::write(d.id(), "data", std::vector<double>(1000, 0.5), {1000});
        const ino_t work = inode_of(hidden_sibling(out, "work"));
        EXPECT_EQ(inode_of(out), published) << "the named file changed before the last publish";
        ASSERT_TRUE(d.close_and_publish());
        EXPECT_EQ(d.publishes(), 2);
        EXPECT_LT(d.id(), 0) << "the file is closed";
        EXPECT_EQ(inode_of(out), work) << "the working copy itself is published, not a copy of it";
        EXPECT_EQ(others(dir, {"x.h5"}), std::vector<std::string>{});
    }
    EXPECT_EQ(read_counter(out), 2);
    {
        h5::Handle f = h5::open_file(out, h5::Mode::read_only);
        EXPECT_EQ(h5::read_doubles(f.id(), "data"), std::vector<double>(1000, 0.5));
    }
    EXPECT_EQ(others(dir, {"x.h5"}), std::vector<std::string>{});

    // As the only publish, it keeps the rules of the first: an existing file
    // is not replaced without --overwrite, even one that appeared meanwhile.
    const std::string other = dir.file("y.h5");
    {
        DurableOutput d(other, false);
        h5::set_attr(d.id(), "counter", int64_t{3});
        { std::ofstream(other) << "appeared meanwhile\n"; }
        EXPECT_THROW(d.close_and_publish(), UserError);
    }
    EXPECT_EQ(bytes_of(other), "appeared meanwhile\n");
    {
        DurableOutput d(other, true);
        h5::set_attr(d.id(), "counter", int64_t{4});
        ASSERT_TRUE(d.close_and_publish());
    }
    EXPECT_EQ(read_counter(other), 4);
}

TEST(DurableOutput, WhileAHandleIsOpenTheLastPublishCopies) {
    TempDir dir;
    const std::string out = dir.file("x.h5");
    DurableOutput d(out, false);
    h5::set_attr(d.id(), "counter", int64_t{1});
    {
        h5::Handle g = h5::group(d.id(), "open");  // keeps the file from closing
        EXPECT_FALSE(d.close_and_publish());
        EXPECT_GE(d.id(), 0) << "the file must stay open while it is in use";
        EXPECT_EQ(read_counter(out), 1);
        EXPECT_EQ(d.publishes(), 1);
    }
    h5::set_attr(d.id(), "counter", int64_t{2});
    EXPECT_TRUE(d.close_and_publish());
    EXPECT_EQ(read_counter(out), 2);
}

TEST(DurableOutput, StaleCopiesOfDeadProcessesAreRemoved) {
    TempDir dir;
    const pid_t child = fork();
    if (child == 0) _exit(0);
    ASSERT_GT(child, 0);
    waitpid(child, nullptr, 0);  // now a pid that no process has
    const std::string dead = std::to_string(child);
    for (const std::string& name : std::vector<std::string>{".x.h5.work-" + dead, ".x.h5.partial-" + dead, ".x.h5.work-1", ".x.h5.notes",
                                    ".y.h5.work-" + dead})
        std::ofstream(dir.file(name)) << "x";
    EXPECT_EQ(DurableOutput::remove_stale_siblings(dir.file("x.h5")), 2);
    std::vector<std::string> left = others(dir, {});
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{".x.h5.notes", ".x.h5.work-1", ".y.h5.work-" + dead}));
}

// The reason for the class: a writer killed at random moments (here while it
// grows a dataset and an attribute that must agree, publishing after each
// change) leaves the named file readable and self-consistent every time.
TEST(DurableOutput, AWriterKilledAtRandomLeavesAConsistentFile) {
    TempDir dir;
    const std::string out = dir.file("x.h5");
    std::mt19937 rng(2026);
    int killed_mid_run = 0;
    for (int trial = 0; trial < 24; ++trial) {
        const pid_t child = fork();
        if (child == 0) {
            try {
                const auto d = fs::exists(out) ? DurableOutput::resume(out) : std::make_unique<DurableOutput>(out, false);
                int64_t n = fs::exists(out) ? h5::attr_int(d->id(), "counter") : 0;
                for (int i = 0; i < 400; ++i) {
                    n += 1;
                    h5::remove(d->id(), "group");  // objects removed and created, space freed and reused
                    h5::write(d->id(), "group/data", std::vector<double>(size_t(n) * 64, double(n)), {hsize_t(n) * 64});
                    h5::set_attr(d->id(), "counter", n);
                    d->publish(true);
                }
            } catch (...) {
                _exit(3);
            }
            _exit(0);
        }
        ASSERT_GT(child, 0);
        std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(2000, 60000)(rng)));
        int status = 0;
        if (waitpid(child, &status, WNOHANG) == 0) {
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
            ++killed_mid_run;
        } else {
            ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the writer failed, trial " << trial;
        }
        if (!fs::exists(out)) continue;
        h5::Handle f = h5::open_file(out, h5::Mode::read_only);  // throws if the kill damaged it
        const int64_t n = h5::attr_int(f.id(), "counter");
        const std::vector<double> data = h5::read_doubles(f.id(), "group/data");
        ASSERT_EQ(data.size(), size_t(n) * 64) << "trial " << trial;
        for (double v : data) ASSERT_EQ(v, double(n)) << "trial " << trial;
    }
    EXPECT_GE(killed_mid_run, 12) << "too few kills landed while the writer ran; the test proves little";
    DurableOutput::remove_stale_siblings(out);
    EXPECT_EQ(others(dir, {"x.h5"}), std::vector<std::string>{});
}
