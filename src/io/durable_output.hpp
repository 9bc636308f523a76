// SPDX-License-Identifier: BSD-3-Clause
// An HDF5 output that a killed process cannot damage.
//
// HDF5 does not survive a process killed while it modifies a file in place:
// between two flushes it writes metadata as its cache evicts it, and a flush
// itself writes the superblock before it extends the file, so a `kill -9`
// (an OOM kill, a job's time limit) can leave a file that no longer opens
// ("truncated file: eof = ..., stored_eof = ...") or that opens with a broken
// object. So dynshare never modifies a published output in place:
//   - every HDF5 call goes to a private working copy, `.NAME.work-PID`,
//     beside NAME (a new file, or a copy of NAME for --resume);
//   - at publish points (a run's first checkpoint and later ones, a sweep's
//     finished runs, the end) the working copy is flushed, copied to
//     `.NAME.partial-PID` and renamed over NAME (PendingOutput's rules: a new
//     output never replaces an existing file without --overwrite);
//   - so NAME is always a complete file as of the last publish, readable and
//     resumable, and a reader opening it while the run goes on sees that
//     consistent state.
// Publishing copies the whole file, except the last one (close_and_publish):
// the closed working copy itself is renamed into place, as nothing writes to
// it afterwards. Unforced publishes are skipped while the
// time since the last one is under 9x its cost (at most ~10% of the run time
// goes to publishing); first and last publishes are forced. This guards
// against the death of the process, not of the machine (no fsync).
#pragma once
#include <hdf5.h>

#include <chrono>
#include <memory>
#include <functional>
#include <string>

#include "io/h5.hpp"
#include "io/output_file.hpp"

namespace dynshare {

class DurableOutput {
public:
    // A new output at `path`: check_output(path, overwrite, flag) first.
    DurableOutput(const std::string& path, bool overwrite, const std::string& flag = "-o");
    // An existing output to continue (--resume): opened read-only to check it
    // (errors name `path`; `check`, when given, reads the open file and throws
    // to refuse it before anything is copied), then copied to the working copy.
    static std::unique_ptr<DurableOutput> resume(const std::string& path,
                                                 const std::function<void(hid_t)>& check = {});
    DurableOutput(const DurableOutput&) = delete;
    DurableOutput& operator=(const DurableOutput&) = delete;
    // Closes and removes the working copy; NAME keeps the last publish (and
    // stays absent, or the old file, when nothing was published).
    ~DurableOutput();

    h5::Handle& file() { return file_; }
    hid_t id() const { return file_.id(); }
    const std::string& path() const { return pending_->path(); }

    // Publishes the working copy under NAME (see above); `force` = false may
    // skip it. Not thread-safe: callers hold the file's lock.
    void publish(bool force);
    // The last publish, without the copy: closes the working copy (HDF5
    // writes everything out at the close) and renames it under NAME, by the
    // same rules as publish. Needs every other handle into the file closed;
    // while one is open the file cannot be closed, so it publishes a copy
    // instead (publish(true)) and returns false. After it returns true the
    // file is closed: id() is invalid and publish must not be called.
    bool close_and_publish();
    int64_t publishes() const { return publishes_; }

    // Removes `.NAME.work-PID` and `.NAME.partial-PID` files beside `path`
    // whose process is gone (left by a kill -9). Returns how many.
    static int remove_stale_siblings(const std::string& path);

private:
    DurableOutput(const std::string& path, bool overwrite, const std::string& flag, bool resuming,
                  const std::function<void(hid_t)>& check = {});
    // Puts `from` (the partial copy or the closed working copy) under NAME.
    void publish_file(const std::string& from);
    std::unique_ptr<PendingOutput> pending_;
    std::string work_;
    h5::Handle file_;
    int64_t publishes_ = 0;
    double last_cost_s_ = 0;
    std::chrono::steady_clock::time_point last_;
};

}  // namespace dynshare
