// SPDX-License-Identifier: BSD-3-Clause
// dynshare merge: joins the shard files of one sweep (`dynshare sweep
// --shard i/n`) into one file with the same layout as a whole sweep.
#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "app/args.hpp"
#include "app/interrupt.hpp"
#include "cli/commands.hpp"
#include "dynshare/errors.hpp"
#include "io/durable_output.hpp"
#include "io/h5.hpp"
#include "io/io_error.hpp"
#include "io/output_file.hpp"
#include "io/sweep_file.hpp"

namespace dynshare::cli {

namespace {

const char* kHelp =
    "usage: dynshare merge OUT.h5 SHARD.h5... [--overwrite] [--quiet]\n"
    "\n"
    "Joins sweep files made from the same sweep (their `sweep` attributes must be\n"
    "equal), e.g. the shards of `dynshare sweep --shard i/n`: every finished\n"
    "/runs/<index> group is copied (a run present in several files is taken from\n"
    "the first), and /sweep/params, /sweep/index and /sweep/seed are rebuilt.\n"
    "OUT.h5 has complete = 1 when it holds every run of the sweep; an incomplete\n"
    "one can be finished with `dynshare sweep SWEEP.yaml -o OUT.h5 --resume`.\n"
    "\n"
    "  --overwrite    replace an existing OUT.h5\n"
    "  --quiet        no summary line\n"
    "Exit status: 0 done, 2 bad input (nothing written).\n";

// The varied keys (grid keys, then lists keys), read from the sweep text.
std::vector<std::string> sweep_keys(const std::string& text) {
    std::vector<std::string> keys;
    const YAML::Node root = YAML::Load(text);
    for (const char* section : {"grid", "lists"})
        if (root[section] && root[section].IsMap())
            for (const auto& kv : root[section]) keys.push_back(kv.first.Scalar());
    return keys;
}

// Bytes of the input files (an upper bound of what the merge writes).
uint64_t input_bytes(const std::vector<std::string>& inputs) {
    uint64_t total = 0;
    std::error_code ec;
    for (const std::string& in : inputs) total += std::filesystem::file_size(in, ec) * (ec ? 0 : 1);
    return total;
}

// An IoError (ENOSPC) naming OUT when its folder has less than `bytes` free.
void check_free_space(const std::string& out, uint64_t bytes) {
    struct statvfs st {};
    if (::statvfs(output_folder(resolve_output(out)).c_str(), &st) != 0) return;
    const uint64_t free = uint64_t(st.f_bavail) * st.f_frsize;
    if (free < bytes + (1u << 20)) throw IoError(out, ENOSPC);
}

// Reserves `bytes` of disk for the partial file at `path`, beyond its end
// (fallocate KEEP_SIZE: its size, all HDF5 sees, is unchanged). HDF5 1.10's
// H5Ocopy crashes (SIGSEGV) when a write fails inside it, so a disk that
// another process fills during the merge must not make a write fail: the
// writes land in these blocks. An IoError naming OUT when the disk cannot
// give them; false when the file system cannot reserve (then only the
// free-space check above stands between the merge and a full disk).
bool reserve_space(const std::string& path, uint64_t bytes, const std::string& out) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const int rc = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(bytes));
    const int err = rc != 0 ? errno : 0;
    ::close(fd);
    if (err == ENOSPC || err == EDQUOT) throw IoError(out, err);
    return rc == 0;
}

// Gives back what reserve_space reserved beyond the file's final end.
void release_reserve(const std::string& path, uint64_t bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0)
        ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, st.st_size, static_cast<off_t>(bytes));
    ::close(fd);
}

}  // namespace

int cmd_merge(int argc, char** argv) {
    const app::Args args = app::parse_args(
        argc, argv, 2,
        {{"--overwrite", false, false}, {"--quiet", false, false}, {"--help", false, false}, {"-h", false, false}},
        "merge");
    if (args.has("--help") || args.has("-h")) {
        std::fputs(kHelp, stdout);
        std::fputs("\nDocumentation: docs/guide/merge.md\n", stdout);  // the user guide's page
        return 0;
    }
    if (args.positional.size() < 2) throw UserError("usage: dynshare merge OUT.h5 SHARD.h5... (see --help)");
    const std::string out = args.positional[0];
    const std::vector<std::string> inputs(args.positional.begin() + 1, args.positional.end());
    namespace fs = std::filesystem;
    check_output(out, args.has("--overwrite"), "OUT");

    // Every input is checked before the output is created.
    std::vector<h5::Handle> files;
    SweepFileHeader first;
    for (const std::string& in : inputs) {
        std::error_code ec;
        if (fs::exists(out) && fs::equivalent(in, out, ec))
            throw UserError(in + " is also the output file; merge into a new file");
        const fs::file_status st = fs::status(in, ec);
        if (fs::exists(st) && !fs::is_regular_file(st))
            throw UserError(in + ": not a regular file (a folder, device or FIFO); give sweep files");
        files.push_back(h5::open_file(in, h5::Mode::read_only));
        const SweepFileHeader h = read_sweep_header(files.back().id(), in);
        if (files.size() == 1) {
            first = h;
        } else if (h.sweep_text != first.sweep_text || h.runs_total != first.runs_total) {
            throw UserError(in + " was made from a different config than " + inputs[0] +
                            " (their `sweep` attributes differ)");
        }
    }
    const std::vector<std::string> keys = sweep_keys(first.sweep_text);
    // Which run comes from which file, every run checked before OUT is created.
    std::vector<std::pair<size_t, int64_t>> plan;
    std::set<int64_t> taken;
    int64_t duplicates = 0;
    for (size_t f = 0; f < files.size(); ++f) {
        for (const auto& [index, status] : finished_runs(files[f].id())) {
            if (index < 0 || index >= first.runs_total)
                throw UserError(inputs[f] + ": run " + std::to_string(index) + " is outside the sweep's " +
                                std::to_string(first.runs_total) + " runs");
            if (!taken.insert(index).second) {
                ++duplicates;
                continue;
            }
            check_run_layout(files[f].id(), index, inputs[f]);
            plan.emplace_back(f, index);
        }
    }

    // The output holds at most what the inputs hold: refused now when the
    // disk cannot take that much, and that much is reserved for the partial
    // file when it is created (reserve_space: H5Ocopy must not see a write
    // fail, even when another process fills the disk during the merge).
    // The output's size: its runs are copies of the inputs' runs; its header
    // and tables are at most those of the largest input, and HDF5's own
    // bookkeeping is counted generously.
    const uint64_t need = input_bytes(inputs) + input_bytes(inputs) / 8 + (1u << 20);
    check_free_space(out, need);
    // Ctrl-C / SIGTERM: stop between runs; the partial file is removed (no
    // .OUT.partial-PID stays behind) and OUT is as it was. Partial files of
    // merges killed earlier (dead pids) are removed now.
    app::install_interrupt_handlers();
    DurableOutput::remove_stale_siblings(resolve_output(out));
    // Written beside OUT and renamed over it at the end (io/output_file.hpp).
    PendingOutput pending(out, args.has("--overwrite"), "OUT");
    h5::Handle dst = h5::open_file(pending.write_path(), h5::Mode::create_exclusive);
    const bool reserved = reserve_space(pending.write_path(), need, out);
    const SweepFileHeader header{first.sweep_text, first.runs_total, 0, 1};
    write_sweep_header(dst.id(), header);
    std::string merged_from;
    for (const std::string& in : inputs) merged_from += (merged_from.empty() ? "" : "\n") + in;
    h5::set_attr(dst.id(), "merged_from", merged_from);
    for (const auto& [f, index] : plan) {
        if (app::interrupted()) {
            dst.reset();
            std::fprintf(stderr, "dynshare merge: interrupted; %s was left as it was\n", out.c_str());
            return app::kInterruptedExit;  // ~PendingOutput removes the partial file
        }
        copy_run(files[f].id(), dst.id(), index);
    }
    const SweepTally tally = finish_sweep_file(dst.id(), keys, header);
    if (dst.close() < 0) h5::fail("close " + pending.write_path());
    if (reserved) release_reserve(pending.write_path(), need);
    if (app::interrupted()) {
        std::fprintf(stderr, "dynshare merge: interrupted; %s was left as it was\n", out.c_str());
        return app::kInterruptedExit;
    }
    pending.commit();
    if (!args.has("--quiet")) {
        std::fprintf(stderr, "wrote %s: %lld/%lld runs from %zu files%s, %s\n", out.c_str(),
                     static_cast<long long>(tally.done), static_cast<long long>(first.runs_total), inputs.size(),
                     duplicates ? (" (" + std::to_string(duplicates) + " duplicate runs skipped)").c_str() : "",
                     tally.complete ? "complete" : "incomplete (complete = 0; finish it with sweep --resume)");
    }
    return 0;
}

}  // namespace dynshare::cli
