// SPDX-License-Identifier: BSD-3-Clause
#include "io/durable_output.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "dynshare/errors.hpp"
#include "io/io_error.hpp"

namespace dynshare {

namespace fs = std::filesystem;

namespace {
// The errno of a failed std::filesystem call (EIO when it carries none).
int errno_of(const std::error_code& ec) {
    return ec.category() == std::generic_category() || ec.category() == std::system_category() ? ec.value() : EIO;
}
}  // namespace

DurableOutput::DurableOutput(const std::string& path, bool overwrite, const std::string& flag)
    : DurableOutput(path, overwrite, flag, false) {}

DurableOutput::DurableOutput(const std::string& path, bool overwrite, const std::string& flag, bool resuming,
                             const std::function<void(hid_t)>& check)
    : pending_(std::make_unique<PendingOutput>(path, overwrite, flag)),
      work_(hidden_sibling(pending_->path(), "work")) {
    // pending_->path() is `path` with links resolved: a link's target is
    // written and published, for a new run and a --resume alike.
    remove_stale_siblings(pending_->path());
    std::error_code ec;
    fs::remove(work_, ec);  // a leftover of an earlier process with the same pid
    if (resuming) {
        // Opening the output itself first gives errors that name it, not the copy.
        {
            const h5::Handle original = h5::open_file(path, h5::Mode::read_only);
            if (check) check(original.id());
        }
        fs::copy_file(path, work_, fs::copy_options::overwrite_existing, ec);
        if (ec) {
            const int err = errno_of(ec);
            fs::remove(work_, ec);
            throw IoError(path, err);
        }
        file_ = h5::open_file(work_, h5::Mode::read_write);
    } else {
        file_ = h5::open_file(work_, h5::Mode::create_exclusive);
    }
    last_ = std::chrono::steady_clock::now();
}

std::unique_ptr<DurableOutput> DurableOutput::resume(const std::string& path,
                                                     const std::function<void(hid_t)>& check) {
    if (!fs::exists(path)) throw UserError("--resume: " + path + " does not exist (nothing to resume)");
    return std::unique_ptr<DurableOutput>(new DurableOutput(path, true, "--resume", true, check));
}

DurableOutput::~DurableOutput() {
    file_.reset();
    std::error_code ec;
    fs::remove(work_, ec);
    if (pending_->committed()) fs::remove(pending_->write_path(), ec);  // a copy whose rename failed
}

void DurableOutput::publish(bool force) {
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (!force && publishes_ > 0 && since < 9.0 * last_cost_s_) return;
    if (H5Fflush(file_.id(), H5F_SCOPE_GLOBAL) < 0) h5::fail("flush " + work_, file_.id());
    const std::string& copy = pending_->write_path();
    std::error_code ec;
    fs::copy_file(work_, copy, fs::copy_options::overwrite_existing, ec);
    if (ec) {
        const int err = errno_of(ec);
        fs::remove(copy, ec);  // what the failed copy wrote; the message names no file that is gone
        throw IoError(path(), err);
    }
    publish_file(copy);
    last_ = std::chrono::steady_clock::now();
    last_cost_s_ = std::chrono::duration<double>(last_ - now).count();
}

bool DurableOutput::close_and_publish() {
    // The file's own id is the one open object allowed (H5F_OBJ_ALL counts it).
    if (H5Fget_obj_count(file_.id(), H5F_OBJ_ALL) != 1) {
        publish(true);
        return false;
    }
    if (file_.close() < 0) h5::fail("close " + work_);
    // The closed copy is complete: moved to the partial name, it is published
    // as a copy would be (a rename within the folder, no bytes copied).
    const std::string& partial = pending_->write_path();
    if (std::rename(work_.c_str(), partial.c_str()) != 0)
        throw UserError("cannot rename " + work_ + " to " + partial + ": " + std::strerror(errno));
    publish_file(partial);
    return true;
}

void DurableOutput::publish_file(const std::string& from) {
    if (!pending_->committed()) {
        pending_->commit();
    } else if (std::rename(from.c_str(), path().c_str()) != 0) {
        throw UserError("cannot rename " + from + " to " + path() + ": " + std::strerror(errno));
    }
    ++publishes_;
}

int DurableOutput::remove_stale_siblings(const std::string& path) {
    const fs::path p(path);
    const std::string stem = "." + p.filename().string() + ".";
    int removed = 0;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(output_folder(path), ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind(stem, 0) != 0) continue;
        const std::string rest = name.substr(stem.size());
        std::string digits;
        for (const char* tag : {"work-", "partial-"})
            if (rest.rfind(tag, 0) == 0) digits = rest.substr(std::strlen(tag));
        if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
            continue;
        const pid_t pid = static_cast<pid_t>(std::stol(digits));
        if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
        if (fs::remove(e.path(), ec)) ++removed;
    }
    return removed;
}

}  // namespace dynshare
