// SPDX-License-Identifier: BSD-3-Clause
#include "io/output_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dynshare/errors.hpp"

namespace dynshare {

namespace fs = std::filesystem;

std::string output_folder(const std::string& path) {
    const fs::path p(path);
    return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

std::string hidden_sibling(const std::string& path, const std::string& tag) {
    return (fs::path(output_folder(path)) /
            ("." + fs::path(path).filename().string() + "." + tag + "-" + std::to_string(::getpid())))
        .string();
}

std::string public_name(const std::string& path) {
    const fs::path p(path);
    const std::string n = p.filename().string();
    const size_t dash = n.rfind('-');
    if (n.size() < 2 || n[0] != '.' || dash == std::string::npos || dash + 1 == n.size() ||
        n.find_first_not_of("0123456789", dash + 1) != std::string::npos)
        return path;
    const size_t dot = n.rfind('.', dash);
    if (dot == std::string::npos || dot < 2) return path;
    const std::string tag = n.substr(dot + 1, dash - dot - 1);
    if (tag != "work" && tag != "partial") return path;
    const std::string name = n.substr(1, dot - 1);
    return p.has_parent_path() ? (p.parent_path() / name).string() : name;
}

std::string resolve_output(const std::string& path) {
    fs::path p(path);
    std::error_code ec;
    for (int hops = 0; hops < 40 && fs::is_symlink(p, ec); ++hops) {
        const fs::path target = fs::read_symlink(p, ec);
        if (ec) break;
        p = target.is_absolute() ? target : p.parent_path() / target;
    }
    return p.string();
}

namespace {
// Longest file name whose hidden siblings (.NAME.partial-PID, .NAME.work-PID)
// still fit NAME_MAX: "." + NAME + ".partial-" + up to 10 digits.
size_t longest_output_name(const fs::path& dir) {
    long max = ::pathconf(dir.c_str(), _PC_NAME_MAX);
    if (max <= 0) max = 255;
    return size_t(max) - std::strlen("..partial-") - 10;
}
}  // namespace

void check_output(const std::string& path, bool overwrite, const std::string& flag) {
    if (path.empty()) throw UserError(flag + " needs a file name");
    std::error_code ec;
    const fs::path p(resolve_output(path));
    const std::string via = p.string() == path ? "" : " (a link to " + p.string() + ")";
    const fs::file_status st = fs::status(p, ec);
    if (fs::is_directory(st))
        throw UserError(flag + " " + path + via + ": is a directory; give a file name");
    if (fs::exists(st) && !fs::is_regular_file(st))
        throw UserError(flag + " " + path + via +
                        ": is not a regular file (a device, FIFO or socket); outputs are regular files, "
                        "even with --overwrite");
    const fs::path dir = output_folder(p.string());
    if (!fs::is_directory(dir, ec))
        throw UserError(flag + " " + path + via + ": the folder " + dir.string() + " does not exist");
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw UserError(flag + " " + path + via + ": the folder " + dir.string() + " is not writable");
    if (p.filename().string().size() > longest_output_name(dir))
        throw UserError(flag + " " + path + ": the file name is too long (at most " +
                        std::to_string(longest_output_name(dir)) +
                        " characters, so that its hidden working copy .NAME.partial-PID fits beside it)");
    if (fs::exists(st) && !overwrite)
        throw UserError(flag + " " + path + via + ": the file exists; pass --overwrite to replace it");
}

void check_not_input(const std::string& path, const std::vector<std::string>& inputs, const std::string& flag) {
    struct stat out {};
    if (::stat(path.c_str(), &out) != 0) return;  // a new file cannot be an input
    for (const std::string& in : inputs) {
        struct stat st {};
        if (in.empty() || ::stat(in.c_str(), &st) != 0) continue;
        if (st.st_dev == out.st_dev && st.st_ino == out.st_ino)
            throw UserError(flag + " " + path + ": is also an input of this command (" + in +
                            "); write to another file");
    }
}

PendingOutput::PendingOutput(const std::string& path, bool overwrite, const std::string& flag)
    : path_(resolve_output(path)), overwrite_(overwrite) {
    check_output(path, overwrite, flag);
    temp_ = hidden_sibling(path_, "partial");
    std::error_code ec;
    fs::remove(temp_, ec);  // a leftover of an earlier process with the same pid
}

PendingOutput::~PendingOutput() {
    if (committed_) return;
    std::error_code ec;
    fs::remove(temp_, ec);
}

void PendingOutput::commit() {
    if (committed_) return;
    if (overwrite_) {
        if (std::rename(temp_.c_str(), path_.c_str()) != 0)
            throw UserError("-o " + path_ + ": cannot replace it (" + std::strerror(errno) + "); nothing was written");
    } else {
        // link() fails if the name exists: a file that appeared meanwhile is never
        // replaced. File systems without hard links fall back to a checked rename.
        if (::link(temp_.c_str(), path_.c_str()) == 0) {
            ::unlink(temp_.c_str());
        } else if (errno != EEXIST && !fs::exists(path_) && std::rename(temp_.c_str(), path_.c_str()) == 0) {
        } else {
            // The partial file goes (the destructor): the message names only the output.
            const int err = errno;
            throw UserError("-o " + path_ + ": cannot create it (" + std::strerror(err == 0 ? EEXIST : err) +
                            "); nothing was written");
        }
    }
    committed_ = true;
}

long long available_memory_bytes() {
    std::ifstream f("/proc/meminfo");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("MemAvailable:", 0) != 0) continue;
        std::istringstream s(line.substr(13));
        long long kib = 0;
        s >> kib;
        return kib * 1024;
    }
    const long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? static_cast<long long>(pages) * size : 0;
}

void check_memory(long long bytes, const std::string& what) {
    const long long avail = available_memory_bytes();
    if (avail <= 0 || bytes <= avail) return;
    char buf[160];
    std::snprintf(buf, sizeof buf, ": the run needs about %.3g bytes of memory, more than the %.3g bytes available",
                  static_cast<double>(bytes), static_cast<double>(avail));
    throw UserError(what + buf);
}

}  // namespace dynshare
