// SPDX-License-Identifier: BSD-3-Clause
// One output discipline for every command that writes a file (simulate,
// sweep, merge, bench; the trainer's run directory follows the same rules):
//   - everything is validated before anything is created: `check_output`
//     refuses a directory, a missing parent folder, or an existing file
//     without --overwrite, naming the path and the flag;
//   - the output is written beside its final name (a hidden sibling
//     `.NAME.partial-PID` in the same folder) and renamed over it only once it
//     is valid (the end of a merge or a report; for simulate and sweep, whose
//     HDF5 files grow during the run, each publish of io/durable_output.hpp),
//     so an existing file is never replaced by one that is not valid, and
//     never replaced at all without --overwrite;
//   - an error before that point removes the partial file: no stubs. (A
//     `kill -9` before it can leave the hidden partial file; the named output
//     is untouched.)
#pragma once
#include <string>
#include <vector>

namespace dynshare {

// The folder of `path` ("." for a bare file name).
std::string output_folder(const std::string& path);
// The hidden file `.NAME.TAG-PID` beside `path` (this process's pid): where
// an output is written before it is renamed over NAME (TAG partial) or kept
// while it grows (TAG work, io/durable_output.hpp).
std::string hidden_sibling(const std::string& path, const std::string& tag);

// The output a hidden sibling stands for: `.NAME.TAG-PID` beside NAME gives
// NAME (same folder); any other path is returned as it is. Error messages
// name this, never a working copy that is removed on the way out.
std::string public_name(const std::string& path);

// The file an output name stands for: symbolic links followed (once, up
// front, the same for writing and --resume), so a link's target is written,
// not the link replaced. A dangling link gives its target's path.
std::string resolve_output(const std::string& path);

// Throws UserError when `path` cannot be a new output: it is (or links to) a
// directory, a device, a FIFO or a socket (refused even with --overwrite),
// its folder does not exist or is not writable, its hidden siblings' names
// would exceed NAME_MAX, or it exists and !overwrite.
void check_output(const std::string& path, bool overwrite, const std::string& flag = "-o");
// Throws UserError when the existing file `path` is one of `inputs` (same
// device and inode, links resolved): an output may not replace an input.
void check_not_input(const std::string& path, const std::vector<std::string>& inputs, const std::string& flag = "-o");

class PendingOutput {
public:
    // check_output(path, overwrite), then picks the sibling to write to.
    PendingOutput(const std::string& path, bool overwrite, const std::string& flag = "-o");
    PendingOutput(const PendingOutput&) = delete;
    PendingOutput& operator=(const PendingOutput&) = delete;
    ~PendingOutput();  // not committed: removes the partial file

    const std::string& path() const { return path_; }        // the final name
    const std::string& write_path() const { return temp_; }  // where to write until commit()
    // Publishes the partial file under the final name (atomic rename; without
    // overwrite it refuses, with UserError, if a file of that name appeared
    // meanwhile). Idempotent.
    void commit();
    bool committed() const { return committed_; }

private:
    std::string path_, temp_;
    bool overwrite_;
    bool committed_ = false;
};

// Bytes of memory this process may still use (MemAvailable; 0 if unknown).
long long available_memory_bytes();
// Throws UserError naming `what` and both byte counts when `bytes` exceeds
// the available memory.
void check_memory(long long bytes, const std::string& what);

}  // namespace dynshare
