// Argument parsing for `dynshare train`; the work is in trainer.cpp.
#include "trainer/train_command.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "dynshare/errors.hpp"
#include "trainer/trainer.hpp"

namespace dynshare {
namespace {

const char* kUsage =
    "usage: dynshare train CONFIG -o RUN_DIR [--set key=value]... [--resume] [--overwrite]\n"
    "\n"
    "Trains a conv or locally connected network (config keys network.*, data.*,\n"
    "sharing.*, train.*, sleep.*; see experiments/train_fmnist_quick.yaml) and\n"
    "writes RUN_DIR/metrics.h5 and RUN_DIR/checkpoint.pt.\n"
    "  -o, --output RUN_DIR   run directory (created if needed)\n"
    "  --set key=value        override one config key (value parsed as YAML)\n"
    "  --resume               continue from RUN_DIR/checkpoint.pt\n"
    "  --overwrite            replace an existing run in RUN_DIR\n"
    "  --device cpu|cuda      same as --set train.device=...\n";

struct Args {
    std::string config, run_dir;
    std::vector<std::pair<std::string, std::string>> sets;
    bool resume = false, overwrite = false, help = false;
};

Args parse_args(int argc, char** argv) {
    Args a;
    auto value = [&](int& i) -> std::string {
        if (i + 1 >= argc) throw UserError(std::string("option ") + argv[i] + " needs a value");
        return argv[++i];
    };
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") a.help = true;
        else if (arg == "-o" || arg == "--output") a.run_dir = value(i);
        else if (arg == "--resume") a.resume = true;
        else if (arg == "--overwrite") a.overwrite = true;
        else if (arg == "--device") a.sets.emplace_back("train.device", value(i));
        else if (arg == "--set") {
            const std::string kv = value(i);
            const auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) throw UserError("--set expects key=value, got '" + kv + "'");
            a.sets.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        } else if (!arg.empty() && arg[0] == '-') throw UserError("unknown option " + arg);
        else if (a.config.empty()) a.config = arg;
        else throw UserError("unexpected argument " + arg);
    }
    if (a.help) return a;
    if (a.config.empty()) throw UserError("missing CONFIG (see dynshare train --help)");
    if (a.run_dir.empty()) throw UserError("missing -o RUN_DIR (see dynshare train --help)");
    if (a.resume && a.overwrite) throw UserError("--resume and --overwrite exclude each other");
    return a;
}

}  // namespace

int train_main(int argc, char** argv) {
    try {
        const Args a = parse_args(argc, argv);
        if (a.help) {
            std::fputs(kUsage, stdout);
            return 0;
        }
        const auto cfg = trainer::load_run_config(a.config, a.sets);
        const auto state = trainer::run_training(cfg, trainer::RunOptions{a.run_dir, a.resume, a.overwrite});
        return state.interrupted ? 130 : 0;
    } catch (const UserError& e) {
        std::fprintf(stderr, "dynshare train: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dynshare train: error: %s\n", e.what());
        return 1;
    }
}

}  // namespace dynshare
