// dynshare: command-line entry point. Dispatches to the subcommands and turns
// exceptions into one-line messages and exit statuses.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/commands.hpp"
#include "dynshare/errors.hpp"
#ifdef DYNSHARE_HAVE_TRAINER
#include "trainer/train_command.hpp"
#endif

namespace {

const char* kUsage =
    "dynshare " DYNSHARE_VERSION " - dynamic weight sharing in rate networks (Pogodin et al., NeurIPS 2021)\n"
    "\n"
    "usage: dynshare <command> [options]    (dynshare <command> --help for details)\n"
    "\n"
    "commands:\n"
    "  simulate  run one simulation (single layer or stacked LC layers) and write HDF5\n"
    "  sweep     run a parameter sweep (grid x trials) into one HDF5 file\n"
    "  merge     join the shard files of a sweep\n"
    "  bench     time the engine against a numpy baseline and write a report\n"
    "  train     train conv/LC networks with a simulated sleep phase (LibTorch)\n";

int dispatch(const std::string& cmd, int argc, char** argv) {
    using namespace dynshare::cli;
    if (cmd == "simulate") return cmd_simulate(argc, argv);
    if (cmd == "sweep") return cmd_sweep(argc, argv);
    if (cmd == "merge") return cmd_merge(argc, argv);
    if (cmd == "bench") return cmd_bench(argc, argv);
    if (cmd == "train") {
#ifdef DYNSHARE_HAVE_TRAINER
        return dynshare::train_main(argc - 1, argv + 1);
#else
        throw dynshare::UserError("train: this build has no trainer (LibTorch was not found; apt-get install libtorch-dev)");
#endif
    }
    throw dynshare::UserError("unknown command '" + cmd + "' (commands: simulate, sweep, merge, bench, train)");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        std::puts("dynshare " DYNSHARE_VERSION);
        return 0;
    }
    const std::string cmd = argv[1];
    try {
        return dispatch(cmd, argc, argv);
    } catch (const dynshare::UserError& e) {
        std::fprintf(stderr, "dynshare %s: error: %s\n", cmd.c_str(), e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dynshare %s: internal error: %s\n", cmd.c_str(), e.what());
        return 1;
    }
}
