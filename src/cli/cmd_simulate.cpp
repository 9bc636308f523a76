// SPDX-License-Identifier: BSD-3-Clause
// dynshare simulate: one run (any plan: one layer, or stacked LC layers) from
// a YAML config (or the built-in Fig. 4B default) to an HDF5 file; --resume
// continues an interrupted file.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "app/args.hpp"
#include "app/interrupt.hpp"
#include "app/progress.hpp"
#include "cli/backend_choice.hpp"
#include "cli/commands.hpp"
#include "cli/memory_first.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/plan.hpp"
#include "io/config_yaml.hpp"
#include "io/durable_output.hpp"
#include "io/h5.hpp"
#include "io/output_file.hpp"
#include "io/run_file.hpp"
#include "io/stack_file.hpp"

namespace dynshare::cli {

namespace {

const char* kHelp =
    "usage: dynshare simulate [CONFIG] [-o OUT.h5] [--set key.path=value]... [--seed S]\n"
    "                         [--threads N] [--backend auto|cpu|cuda] [--overwrite] [--quiet]\n"
    "                         [--weights WEIGHTS.h5]\n"
    "       dynshare simulate --resume OUT.h5 [--threads N] [--backend auto|cpu|cuda] [--quiet]\n"
    "\n"
    "Runs one simulation. Without CONFIG the built-in default runs: one Fig. 4B curve\n"
    "(ei_rate, N = 100, k = 9, alpha = 10, gamma = 0.1, 10,000 presentations of 150 ms).\n"
    "A config with a `stack` section runs the sleep phase over stacked LC layers.\n"
    "\n"
    "  -o OUT.h5        output file (default: dynshare_run.h5); never overwritten without --overwrite\n"
    "  --set k=v        override one config key, e.g. --set dynamics.alpha=30 (repeatable)\n"
    "  --seed S         same as --set run.seed=S\n"
    "  --threads N      OpenMP threads (stacked layers); results do not depend on N\n"
    "  --backend B      auto (default: GPU when usable and able to run the config), cpu or cuda\n"
    "  --weights F      stacked runs: start from the layer weights in F (docs/guide/simulate.md)\n"
    "  --resume OUT.h5  continue an interrupted run from its last checkpoint\n"
    "  --overwrite      replace an existing OUT.h5\n"
    "  --quiet          no summary line\n"
    "Exit status: 0 done, 2 bad input, 3 the run diverged, 130 interrupted (file valid, complete = 0).\n";

std::string summary(const RunPlan& plan, const RunResult& r, const std::string& path, double seconds) {
    char buf[512];
    const char* state = r.status == RunStatus::complete ? "complete" : "incomplete (complete = 0)";
    if (plan.kind == PlanKind::single_layer)
        std::snprintf(buf, sizeof buf, "wrote %s: %lld presentations, %s, theory min -log SNR_w = %.4f, %.2f s",
                      path.c_str(), static_cast<long long>(r.state.presentation), state, r.theory_min, seconds);
    else
        std::snprintf(buf, sizeof buf, "wrote %s: %lld presentations, %s, %.2f s", path.c_str(),
                      static_cast<long long>(r.state.presentation), state, seconds);
    return buf;
}

// The file layout of the plan: one layer at the root, or the stacked layout.
std::unique_ptr<RunWriter> make_writer(const SimConfig& cfg, const RunPlan& plan, const std::string& yaml,
                                       hid_t file, bool resumed) {
    if (plan.kind == PlanKind::stack) return std::make_unique<StackFileWriter>(file, cfg, yaml, plan, resumed);
    return std::make_unique<RunGroupWriter>(file, cfg, yaml, resumed);
}

int execute(const SimConfig& cfg, const RunPlan& plan, Backend& backend, const std::string& yaml, DurableOutput& file,
            const std::vector<std::vector<double>>& initial, const RunState* resume, const std::string& out,
            bool quiet) {
    std::unique_ptr<RunWriter> writer = make_writer(cfg, plan, yaml, file.id(), resume != nullptr);
    writer->publish = [&file](bool force) { file.publish(force); };
    app::ProgressBar bar("presentations");
    writer->stop = app::interrupted;
    writer->progress = [&bar](int64_t d, int64_t t) { bar.update(d, t); };
    const auto t0 = std::chrono::steady_clock::now();
    const RunResult result = backend.run(cfg, plan, initial, *writer, resume);
    // The end is published by renaming the closed working copy rather than by
    // copying it (io/durable_output.hpp): finish() then only flushes, and the
    // writer's handles close before the file does.
    writer->publish = nullptr;
    writer->finish(result);
    writer.reset();
    file.close_and_publish();
    bar.finish();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!quiet) std::fprintf(stderr, "%s\n", summary(plan, result, out, secs).c_str());
    if (result.status == RunStatus::diverged) {
        std::fprintf(stderr, "dynshare simulate: error: %s\n", result.message.c_str());
        return 3;
    }
    return result.status == RunStatus::interrupted ? app::kInterruptedExit : 0;
}

// A checkpoint must belong to the run it is resumed as (an edited or damaged
// file is refused in one line, not continued): its position within the run,
// its step count that of its presentations, its arrays the plan's shapes.
void check_checkpoint(const RunState& ck, const SimConfig& cfg, const RunPlan& plan, const std::string& path) {
    const auto bad = [&](const std::string& why) {
        throw UserError(path + ": the checkpoint does not fit the run (" + why + "); the file is damaged or edited");
    };
    if (ck.presentation < 0 || ck.presentation > cfg.run.presentations)
        bad("presentation = " + std::to_string(ck.presentation) + " is outside [0, run.presentations = " +
            std::to_string(cfg.run.presentations) + "]");
    if (ck.step != ck.presentation * cfg.steps_per_presentation())
        bad("step = " + std::to_string(ck.step) + " is not presentation x steps_per_presentation = " +
            std::to_string(ck.presentation * cfg.steps_per_presentation()));
    if (ck.layers.size() != plan.layers.size())
        bad(std::to_string(ck.layers.size()) + " layers, the plan has " + std::to_string(plan.layers.size()));
    for (size_t l = 0; l < ck.layers.size(); ++l) {
        const LayerState& c = ck.layers[l];
        const size_t weights = size_t(plan.layers[l].neurons) * size_t(plan.layers[l].fan_in);
        if (c.w.size() != weights || c.w0.size() != weights || c.v.size() != c.w.size())
            bad("layer " + std::to_string(l) + "'s weight arrays hold " + std::to_string(c.w.size()) + "/" +
                std::to_string(c.w0.size()) + "/" + std::to_string(c.v.size()) + " values, the plan " +
                std::to_string(weights));
    }
}

int resume_run(const std::string& path, const app::Args& args) {
    if (!args.positional.empty() || args.has("--set") || args.has("--seed") || args.has("-o") || args.has("--weights"))
        throw UserError("--resume takes the config from " + path +
                        "; CONFIG, -o, --set, --seed and --weights cannot be given");
    // Continued in a working copy, published over PATH at checkpoints
    // (io/durable_output.hpp): a kill during the resumed run cannot damage PATH.
    // The file is checked, read-only, before the working copy is made: its
    // kind, its config, and the run's memory (as a new run's: from the config
    // alone, before the plan sizes anything).
    std::string yaml;
    SimConfig cfg;
    const auto check_file = [&](hid_t id) {
        if (!h5::has_attr(id, "config") || !h5::has_attr(id, "complete"))
            throw UserError(path + " is not a dynshare simulate file (no root attributes 'config' and 'complete')");
        yaml = h5::attr_string(id, "config");
        cfg = parse_config(yaml, {}, path + ":config");
        if (h5::attr_int(id, "complete") == 1) throw UserError(path + " is already complete; nothing to resume");
        check_memory_from_config(cfg, path + ":config: ");
    };
    const std::unique_ptr<DurableOutput> durable = DurableOutput::resume(path, check_file);
    h5::Handle& file = durable->file();
    const RunPlan plan = make_plan(cfg);
    const bool quiet = args.has("--quiet");
    const auto backend = choose_backend(args.get("--backend", "auto"), cfg, plan, quiet, "simulate");
    const RunState ck = plan.kind == PlanKind::stack ? read_stack_checkpoint(file.id(), plan, cfg.dynamics.bias)
                                                     : read_checkpoint(file.id());
    check_checkpoint(ck, cfg, plan, path);
    truncate_records(file.id(), ck.step);
    return execute(cfg, plan, *backend, yaml, *durable, {}, &ck, path, quiet);
}

}  // namespace

int cmd_simulate(int argc, char** argv) {
    const app::Args args = app::parse_args(argc, argv, 2,
                                           {{"-o", true, false},
                                            {"--set", true, true},
                                            {"--seed", true, false},
                                            {"--threads", true, false},
                                            {"--backend", true, false},
                                            {"--weights", true, false},
                                            {"--resume", true, false},
                                            {"--overwrite", false, false},
                                            {"--quiet", false, false},
                                            {"--help", false, false},
                                            {"-h", false, false}},
                                           "simulate");
    if (args.has("--help") || args.has("-h")) {
        std::fputs(kHelp, stdout);
        std::fputs("\nDocumentation: docs/guide/simulate.md\n", stdout);  // the user guide's page
        return 0;
    }
    if (args.positional.size() > 1) throw UserError("simulate takes at most one CONFIG file");
    if (args.has("--threads")) omp_set_num_threads(app::parse_threads(args.get("--threads")));
    app::install_interrupt_handlers();
    if (args.has("--resume")) return resume_run(args.get("--resume"), args);

    std::vector<std::string> sets = args.all("--set");
    if (args.has("--seed")) sets.push_back("run.seed=" + args.get("--seed"));
    const SimConfig cfg = load_config(args.positional.empty() ? "" : args.positional[0], sets);
    const std::string out = args.get("-o", "dynshare_run.h5");
    check_output(out, args.has("--overwrite"));
    check_not_input(out, {args.positional.empty() ? "" : args.positional[0], args.get("--weights", "")});
    if (args.has("--weights") && !cfg.stack.enabled)
        throw UserError("--weights needs a config with a `stack` section");
    const bool quiet = args.has("--quiet");
    // Everything is validated before the output file is created or touched:
    // the plan (geometry, periods), the backend and what it can run, the weights.
    check_memory_from_config(cfg);  // before the plan sizes its tables by the config
    const RunPlan plan = make_plan(cfg);
    const auto backend = choose_backend(args.get("--backend", "auto"), cfg, plan, quiet, "simulate");
    std::vector<std::vector<double>> initial;
    if (args.has("--weights")) {
        std::vector<LcGeometry> geometry;
        for (const LayerPlan& pl : plan.layers) geometry.push_back(pl.g);
        initial = read_stack_weights(args.get("--weights"), geometry);
    }
    if (app::interrupted()) {  // a signal while the run was being checked: nothing was created
        std::fprintf(stderr, "dynshare simulate: interrupted before the run started; nothing was written\n");
        return app::kInterruptedExit;
    }
    const std::string yaml = to_yaml(cfg);
    // Written in a working copy beside OUT.h5, published over it once its first
    // checkpoint is written and again at later checkpoints
    // (io/durable_output.hpp): an existing file survives every error before,
    // and OUT.h5 is never modified in place.
    DurableOutput file(out, args.has("--overwrite"));
    return execute(cfg, plan, *backend, yaml, file, initial, nullptr, out, quiet);
}

}  // namespace dynshare::cli
