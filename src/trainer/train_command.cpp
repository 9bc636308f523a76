// SPDX-License-Identifier: BSD-3-Clause
// `dynshare train` (the program dynshare-train): arguments through the
// programs' one parser (src/app/args.hpp), errors as one line
// "dynshare train: error: ..." with exit status 2. Everything that can be
// checked without training is checked before RUN_DIR is created: the
// arguments, the config, the data files (headers only) and the device; a
// RUN_DIR that this command created is removed again if the run is then
// refused before it wrote anything. The work is in trainer.cpp.
#include "trainer/train_command.hpp"

#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "app/args.hpp"
#include "app/interrupt.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/version.hpp"
#include "trainer/datasets.hpp"
#include "trainer/distributed.hpp"
#include "trainer/lc_gemm.hpp"
#include "trainer/memory_estimate.hpp"
#include "trainer/trainer.hpp"

namespace dynshare {
namespace {
namespace fs = std::filesystem;

const char* kUsage =
    "usage: dynshare train CONFIG -o RUN_DIR [--set key=value]... [--resume] [--overwrite] [--device cpu|cuda]\n"
    "\n"
    "Trains a conv or locally connected network (config keys network.*, data.*,\n"
    "sharing.*, train.*, sleep.*; see experiments/train_fmnist_quick.yaml) and\n"
    "writes RUN_DIR/metrics.h5 and RUN_DIR/checkpoint.pt.\n"
    "  -o, --output RUN_DIR   run directory (created if needed)\n"
    "  --set key=value        override one config key (value parsed as YAML)\n"
    "  --resume               continue from RUN_DIR/checkpoint.pt\n"
    "  --overwrite            replace an existing run in RUN_DIR\n"
    "  --device cpu|cuda      same as --set train.device=...\n";

struct Request {
    std::string config, run_dir;
    std::vector<std::pair<std::string, std::string>> sets;
    bool resume = false, overwrite = false;
};

Request parse_request(const app::Args& a) {
    Request r;
    if (a.positional.empty()) throw UserError("missing CONFIG (see dynshare train --help)");
    if (a.positional.size() > 1) throw UserError("train takes exactly one CONFIG file, got " + std::to_string(a.positional.size()));
    r.config = a.positional[0];
    if (a.has("-o") && a.has("--output")) throw UserError("option -o given twice (as -o and --output)");
    r.run_dir = a.has("-o") ? a.get("-o") : a.get("--output");
    if (r.run_dir.empty()) throw UserError("missing -o RUN_DIR (see dynshare train --help)");
    r.resume = a.has("--resume");
    r.overwrite = a.has("--overwrite");
    if (r.resume && r.overwrite) throw UserError("--resume and --overwrite exclude each other");
    for (const std::string& kv : a.all("--set")) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) throw UserError("--set " + kv + ": expected key.path=value");
        r.sets.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    if (a.has("--device")) r.sets.emplace_back("train.device", a.get("--device"));
    return r;
}

// The checks of trainer.cpp's prepare_run_dir, without creating anything
// (only a killed --overwrite's staging folder is removed first).
void check_run_dir(const Request& r) {
    const fs::path dir(r.run_dir);
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
        throw UserError("-o " + r.run_dir + ": exists and is not a directory");
    if (fs::is_directory(dir, ec)) trainer::remove_stale_staging_of(r.run_dir);  // even when refused below
    if (fs::is_directory(dir, ec) && trainer::run_dir_in_use(r.run_dir))
        throw UserError(r.run_dir + " is in use by another trainer (it holds " + (dir / ".lock").string() +
                        "); wait for it to end, or give another -o");
    const bool has_checkpoint = fs::exists(dir / "checkpoint.pt", ec);
    const bool used = has_checkpoint || fs::exists(dir / "metrics.h5", ec);
    if (r.resume && !has_checkpoint) throw UserError("--resume: no checkpoint.pt in " + r.run_dir);
    if (!r.resume && used && !r.overwrite)
        throw UserError(r.run_dir + " already holds a run; use --resume to continue it or --overwrite to replace it");
}

int run(const Request& r) {
    const auto cfg = trainer::load_run_config(r.config, r.sets);
    const trainer::DataCensus data = trainer::check_data(cfg.data);
    trainer::lc_isa();  // a DYNSHARE_LC_KERNEL this CPU cannot run is refused now, in one line
    if (cfg.train.device == "cuda" && !torch::cuda::is_available())
        throw UserError("train.device cuda: no CUDA device available (or this LibTorch has no CUDA support)");
    // A data-parallel run (torchrun / srun variables): every check above and
    // below runs on every rank before any rank creates RUN_DIR.
    const trainer::WorldInfo world = trainer::world_from_env();
    if (world.distributed() && cfg.train.batch_size % world.world != 0)
        throw UserError("train.batch_size = " + std::to_string(cfg.train.batch_size) + " is not divisible by the " +
                        std::to_string(world.world) +
                        " processes of this run: each rank takes batch_size / world_size images per iteration");
    // The memory the run will need, before anything is created: per rank,
    // times the ranks that share this machine.
    trainer::check_train_memory(cfg, data, world.world, world.local_world);
    check_run_dir(r);
    const auto comm = trainer::Communicator::connect(
        world, cfg.train.device == "cuda" ? torch::Device(torch::kCUDA, world.local_rank) : torch::Device(torch::kCPU));
    comm->check_same_config(trainer::to_yaml(cfg) + "\nrun_dir: " + r.run_dir + (r.resume ? "\nresume" : "") +
                            (r.overwrite ? "\noverwrite" : ""));
    if (world.distributed() && world.rank == 0)
        std::fprintf(stderr, "dynshare train: rank 0 of %d (%s), Gloo/NCCL group at %s:%d\n", world.world,
                     world.launcher.c_str(), world.master_addr.c_str(), world.master_port);
    std::error_code ec;
    const bool existed = fs::exists(r.run_dir, ec);
    try {
        trainer::RunOptions options{r.run_dir, r.resume, r.overwrite};
        options.comm = comm.get();
        const auto state = trainer::run_training(cfg, options);
        return state.interrupted ? app::kInterruptedExit : 0;  // Ctrl-C / SIGTERM: checkpoint written, resumable
    } catch (...) {
        // Refused after RUN_DIR was made (e.g. a network the images are too
        // small for): leave no empty folder behind.
        if (!existed) trainer::release_run_dir_lock(r.run_dir);
        if (!existed && fs::is_directory(r.run_dir, ec) && fs::is_empty(r.run_dir, ec)) fs::remove(r.run_dir, ec);
        throw;
    }
}

}  // namespace

int train_main(int argc, char** argv) {
    try {
        const app::Args a = app::parse_args(argc, argv, 1,
                                            {{"-o", true, false},
                                             {"--output", true, false},
                                             {"--set", true, true},
                                             {"--resume", false, false},
                                             {"--overwrite", false, false},
                                             {"--device", true, false},
                                             {"--help", false, false},
                                             {"--version", false, false},
                                             {"-h", false, false}},
                                            "train");
        if (a.has("--version")) {
            std::puts(version_line().c_str());
            return 0;
        }
        if (a.has("--help") || a.has("-h")) {
            std::fputs(kUsage, stdout);
            std::fputs("\nDocumentation: docs/guide/train.md\n", stdout);  // the user guide's page
            return 0;
        }
        return run(parse_request(a));
    } catch (const UserError& e) {
        std::fprintf(stderr, "dynshare train: error: %s\n", e.what());
        return 2;
    } catch (const trainer::PeerFailure& e) {
        std::fprintf(stderr, "dynshare train: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dynshare train: internal error: %s\n", e.what());
        return 1;
    }
}

}  // namespace dynshare
