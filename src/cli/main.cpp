// SPDX-License-Identifier: BSD-3-Clause
// dynshare: command-line entry point. Dispatches to the subcommands and turns
// exceptions into one-line messages and exit statuses. `train` is a separate
// program, dynshare-train, next to this binary (it alone links LibTorch):
// dynshare execs it with the same arguments, so its exit status is ours.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "app/heap_policy.hpp"
#include "app/interrupt.hpp"
#include "cli/commands.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/version.hpp"
#include "io/h5.hpp"

namespace {

// After the first line (dynshare::version_line()).
const char* kUsage =
    " - dynamic weight sharing in rate networks (Pogodin et al., NeurIPS 2021)\n"
    "\n"
    "usage: dynshare <command> [options]    (dynshare <command> --help for details)\n"
    "\n"
    "commands:\n"
    "  simulate  run one simulation (single layer or stacked LC layers) and write HDF5\n"
    "  sweep     run a parameter sweep (grid x trials) into one HDF5 file\n"
    "  merge     join the shard files of a sweep\n"
    "  bench     time the engine against a numpy baseline and write a report\n"
    "  train     train conv/LC networks with a simulated sleep phase (runs dynshare-train, LibTorch)\n"
    "  config    write the config reference or the HDF5 layout page, generated from the code\n"
    "\n"
    "Documentation: docs/index.md (the site: mkdocs build; the user guide is docs/guide/)\n";

// The directory of the running binary (/proc/self/exe), with a trailing '/'.
std::string own_directory(const char* argv0) {
    std::vector<char> buf(4096);
    const ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
    std::string self = n > 0 ? std::string(buf.data(), size_t(n)) : std::string(argv0 ? argv0 : "");
    const size_t slash = self.rfind('/');
    return slash == std::string::npos ? std::string("./") : self.substr(0, slash + 1);
}

// Replaces this process by dynshare-train ARGS...; returns only on failure.
int exec_trainer(int argc, char** argv) {
    const std::string program = own_directory(argv[0]) + "dynshare-train";
    if (access(program.c_str(), F_OK) != 0)
        throw dynshare::UserError("no trainer program: looked for " + program +
                                  " (it is built with LibTorch: apt-get install libtorch-dev, then rebuild)");
    std::vector<char*> args{const_cast<char*>(program.c_str())};
    for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    std::fflush(nullptr);
    execv(program.c_str(), args.data());
    throw dynshare::UserError("cannot run " + program + ": " + std::strerror(errno));
}

// The exit status, returned, or given by _Exit when HDF5 failed to write or
// close a file (a full disk): its teardown at exit would crash on that file
// (io/h5.hpp, h5::broken). The working copies are already removed.
int leave(int status) {
    if (dynshare::h5::broken()) {
        std::fflush(nullptr);
        std::_Exit(status);
    }
    return status;
}

// The commands that stop cleanly on Ctrl-C / SIGTERM (exit 130) catch both
// from their first instruction: a signal while the config is read or a large
// sweep is planned is answered as one during the run.
bool stops_cleanly(const char* cmd) {
    return !std::strcmp(cmd, "simulate") || !std::strcmp(cmd, "sweep") || !std::strcmp(cmd, "merge");
}

// The earliest moment this program's code runs: the executable's constructors,
// before main and before the commands' static setup (glibc passes argc and
// argv). simulate, sweep and merge catch SIGINT/SIGTERM from here on (the
// dynamic loader's few dozen milliseconds before it remain uncovered).
__attribute__((constructor(101))) void early_handlers(int argc, char** argv) {
    if (argc >= 2 && argv && argv[1] && stops_cleanly(argv[1])) dynshare::app::install_interrupt_handlers();
}

int dispatch(const std::string& cmd, int argc, char** argv) {
    using namespace dynshare::cli;
    if (stops_cleanly(cmd.c_str())) dynshare::app::install_interrupt_handlers();
    if (cmd == "simulate") return cmd_simulate(argc, argv);
    if (cmd == "sweep") return cmd_sweep(argc, argv);
    if (cmd == "merge") return cmd_merge(argc, argv);
    if (cmd == "bench") return cmd_bench(argc, argv);
    if (cmd == "config") return cmd_config(argc, argv);
    if (cmd == "train") return exec_trainer(argc, argv);
    throw dynshare::UserError("unknown command '" + cmd + "' (commands: simulate, sweep, merge, bench, train, config)");
}

}  // namespace

int main(int argc, char** argv) {
    dynshare::app::keep_freed_memory();  // a sweep's runs reuse the last one's pages
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        std::FILE* out = argc < 2 ? stderr : stdout;
        std::fputs(dynshare::version_line().c_str(), out);
        std::fputs(kUsage, out);
        return argc < 2 ? 2 : 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        std::puts(dynshare::version_line().c_str());
        return 0;
    }
    const std::string cmd = argv[1];
    try {
        return leave(dispatch(cmd, argc, argv));
    } catch (const dynshare::UserError& e) {
        std::fprintf(stderr, "dynshare %s: error: %s\n", cmd.c_str(), e.what());
        return leave(2);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dynshare %s: internal error: %s\n", cmd.c_str(), e.what());
        return leave(1);
    }
}
