#include "io/output_file.hpp"

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

void check_output(const std::string& path, bool overwrite, const std::string& flag) {
    if (path.empty()) throw UserError(flag + " needs a file name");
    std::error_code ec;
    const fs::path p(path);
    if (fs::is_directory(p, ec))
        throw UserError(flag + " " + path + ": is a directory; give a file name");
    const fs::path dir = output_folder(path);
    if (!fs::is_directory(dir, ec))
        throw UserError(flag + " " + path + ": the folder " + dir.string() + " does not exist");
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw UserError(flag + " " + path + ": the folder " + dir.string() + " is not writable");
    if (fs::exists(p, ec) && !overwrite)
        throw UserError(flag + " " + path + ": the file exists; pass --overwrite to replace it");
}

PendingOutput::PendingOutput(const std::string& path, bool overwrite, const std::string& flag)
    : path_(path), overwrite_(overwrite) {
    check_output(path, overwrite, flag);
    temp_ = hidden_sibling(path, "partial");
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
            throw UserError("cannot rename " + temp_ + " to " + path_ + ": " + std::strerror(errno));
    } else {
        // link() fails if the name exists: a file that appeared meanwhile is never
        // replaced. File systems without hard links fall back to a checked rename.
        if (::link(temp_.c_str(), path_.c_str()) == 0) {
            ::unlink(temp_.c_str());
        } else if (errno != EEXIST && !fs::exists(path_) && std::rename(temp_.c_str(), path_.c_str()) == 0) {
        } else {
            throw UserError("-o " + path_ + ": cannot create it (" + std::strerror(errno) + "); the result is in " +
                            temp_);
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
