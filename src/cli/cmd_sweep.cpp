// SPDX-License-Identifier: BSD-3-Clause
// dynshare sweep: every run of a sweep file (base config x grid/lists x
// trials) in parallel, one run per thread, into one HDF5 file. Runs may be
// single layers or stacks (a `stack` section); each is written in the layout
// `simulate` gives it, under /runs/<index>.
//
// Each worker thread takes the next pending run, runs it single-threaded with
// its output collected in memory (RunCollector), then writes it as
// /runs/<index> while holding the file's mutex: HDF5 is only ever called by
// one thread at a time. Results do not depend on the number of threads or on
// the order in which runs finish. Ctrl-C stops scheduling; running runs stop
// at their next presentation boundary and are not written, so --resume runs
// them again from the start.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "app/args.hpp"
#include "app/interrupt.hpp"
#include "app/progress.hpp"
#include "cli/backend_choice.hpp"
#include "cli/commands.hpp"
#include "cli/memory_first.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/errors.hpp"
#include "io/config_yaml.hpp"
#include "io/durable_output.hpp"
#include "io/h5.hpp"
#include "io/output_file.hpp"
#include "io/sweep_config.hpp"
#include "io/sweep_file.hpp"

namespace dynshare::cli {

namespace {

const char* kHelp =
    "usage: dynshare sweep SWEEP.yaml -o OUT.h5 [--set key.path=value]... [--threads N]\n"
    "                      [--shard i/n] [--resume | --overwrite] [--quiet]\n"
    "\n"
    "Runs every run of a parameter sweep into one HDF5 file. Runs may be single layers\n"
    "or stacks (a `stack` section in the base config). A sweep file is\n"
    "    base: fig4b.yaml                 # run config (relative to the sweep file, then the current dir)\n"
    "    set:  {run.presentations: 2000}  # overrides for every run\n"
    "    grid: {dynamics.alpha: [3, 10], plasticity.gamma: [0.1, 0.01]}   # Cartesian product\n"
    "    lists: {layer.kernel: [3, 6], layer.neurons: [50, 100]}         # zipped, crossed with grid\n"
    "    trials: 10                       # runs per point, differing in their seed\n"
    "Run index = point * trials + trial; its seed is derived from the base run.seed and\n"
    "the index (attribute `seed` of /runs/<index>), so one run is reproduced alone by\n"
    "    dynshare simulate BASE --set <set...> --set <its values...> --set run.seed=<seed>\n"
    "\n"
    "  -o OUT.h5      output file (required); never replaced without --overwrite\n"
    "  --set k=v      override one key of every run (folded into the sweep's `set`)\n"
    "  --threads N    runs in parallel, one thread each (default: all cores); results do not depend on N\n"
    "  --backend B    auto (GPU when usable), cpu or cuda: on the GPU all runs go in batches\n"
    "  --shard i/n    run only the runs with index % n == i (0 <= i < n); join shards with `dynshare merge`.\n"
    "                 In a SLURM job array (sbatch --array=0-N) the default is the task's shard:\n"
    "                 (SLURM_ARRAY_TASK_ID - MIN) / STEP of SLURM_ARRAY_TASK_COUNT; --shard wins\n"
    "  --resume       continue OUT.h5: keep its finished runs, run the others (same sweep required)\n"
    "  --overwrite    replace an existing OUT.h5\n"
    "  --quiet        no summary line\n"
    "\n"
    "File: /runs/<index>/ (single-run layout + swept values as attributes named by key path,\n"
    "seed, trial, point, index), /sweep/params (runs x keys, float64, attribute `columns` = key\n"
    "paths), /sweep/index, /sweep/seed; root attributes sweep, version, runs_total, shard,\n"
    "runs_done, complete. Only finished runs are written.\n"
    "Exit status: 0 done, 2 bad input, 3 some run diverged (written with status = diverged),\n"
    "130 interrupted (file valid, complete = 0; rerun with --resume).\n";

struct Pool {
    std::atomic<size_t> next{0};
    std::atomic<bool> abort{false};
    std::atomic<int64_t> presentations{0};
    std::atomic<int64_t> written{0}, diverged{0}, stopped{0};
    std::atomic<int> running{0};
    std::mutex file_mutex;  // every HDF5 call on the output file
    double write_seconds = 0;  // under file_mutex
    std::exception_ptr error;
    std::string first_divergence;
};

void worker(Pool& pool, const std::vector<const SweepRun*>& pending, DurableOutput& file) {
    omp_set_num_threads(1);  // each run single-threaded; the sweep is parallel over runs
    h5::silence_errors();    // this thread writes runs
    const auto backend = make_cpu_backend();
    for (;;) {
        if (app::interrupted() || pool.abort.load()) break;
        const size_t j = pool.next.fetch_add(1);
        if (j >= pending.size()) break;
        const SweepRun& run = *pending[j];
        try {
            RunCollector data;
            data.stop = [&pool] { return app::interrupted() || pool.abort.load(); };
            data.progress = [&pool](int64_t d) { pool.presentations.fetch_add(d); };
            const RunPlan plan = make_plan(run.config);
            const RunResult result = backend->run(run.config, plan, {}, data, nullptr);
            if (result.status == RunStatus::interrupted) {  // not written: runs again on --resume
                pool.stopped.fetch_add(1);
                continue;
            }
            const std::string yaml = to_yaml(run.config);
            std::lock_guard<std::mutex> lock(pool.file_mutex);
            const auto w0 = std::chrono::steady_clock::now();
            write_sweep_run(file.id(), run, plan, yaml, data, result);
            file.publish(false);
            pool.write_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
            pool.written.fetch_add(1);
            if (result.status == RunStatus::diverged && pool.diverged.fetch_add(1) == 0)
                pool.first_divergence = "run " + std::to_string(run.index) + ": " + result.message;
        } catch (...) {
            std::lock_guard<std::mutex> lock(pool.file_mutex);
            if (!pool.error) pool.error = std::current_exception();
            pool.abort.store(true);
        }
    }
    pool.running.fetch_sub(1);
}

// The CUDA backend: all pending runs in batches on the device (thousands in
// flight, records computed there), written one by one afterwards.
void run_on_device(Backend& backend, Pool& pool, const std::vector<const SweepRun*>& pending, DurableOutput& file) {
    const size_t batch = 16384;
    for (size_t b0 = 0; b0 < pending.size() && !app::interrupted(); b0 += batch) {
        const size_t n = std::min(batch, pending.size() - b0);
        std::vector<RunCollector> data(n);
        std::vector<SimConfig> cfgs;
        std::vector<RunObserver*> observers;
        for (size_t i = 0; i < n; ++i) {
            data[i].stop = [] { return app::interrupted(); };
            data[i].progress = [&pool](int64_t d) { pool.presentations.fetch_add(d); };
            cfgs.push_back(pending[b0 + i]->config);
            observers.push_back(&data[i]);
        }
        const std::vector<RunResult> results = backend.run_batch(cfgs, observers, BatchOptions{false, true});
        for (size_t i = 0; i < n; ++i) {
            if (results[i].status == RunStatus::interrupted) continue;
            const SweepRun& run = *pending[b0 + i];
            write_sweep_run(file.id(), run, make_plan(run.config), to_yaml(run.config), data[i], results[i]);
            file.publish(false);
            pool.written.fetch_add(1);
            if (results[i].status == RunStatus::diverged && pool.diverged.fetch_add(1) == 0)
                pool.first_divergence = "run " + std::to_string(run.index) + ": " + results[i].message;
        }
    }
}

// The shard of a SLURM job array task (sbatch --array=MIN-MAX[:STEP]): task
// SLURM_ARRAY_TASK_ID is shard (ID - MIN) / STEP of SLURM_ARRAY_TASK_COUNT.
// Returns false outside a job array. Throws UserError naming the variable
// when the array's ids are not an arithmetic sequence this can map.
bool shard_from_slurm(int64_t* index, int64_t* count, std::string* note) {
    const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
    const char* n = std::getenv("SLURM_ARRAY_TASK_COUNT");
    if (!id && !n) return false;
    if (!id || !n)
        throw UserError(std::string(id ? "SLURM_ARRAY_TASK_ID" : "SLURM_ARRAY_TASK_COUNT") + " is set but " +
                        (id ? "SLURM_ARRAY_TASK_COUNT" : "SLURM_ARRAY_TASK_ID") +
                        " is not: not a job array task this can map; give --shard i/n (or unset it)");
    const auto number = [](const char* name, const char* fallback) -> int64_t {
        const char* v = std::getenv(name);
        const std::string text = v ? v : fallback;
        if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
            throw UserError(std::string(name) + "='" + text +
                            "' is not a non-negative integer (a SLURM job array sets it; or give --shard i/n)");
        return std::stoll(text);
    };
    const int64_t task = number("SLURM_ARRAY_TASK_ID", ""), tasks = number("SLURM_ARRAY_TASK_COUNT", "");
    const int64_t min = number("SLURM_ARRAY_TASK_MIN", "0"), step = number("SLURM_ARRAY_TASK_STEP", "1");
    if (tasks < 1 || step < 1 || task < min || (task - min) % step != 0 || (task - min) / step >= tasks)
        throw UserError("SLURM_ARRAY_TASK_ID=" + std::to_string(task) + " is not one of " + std::to_string(tasks) +
                        " evenly spaced tasks from SLURM_ARRAY_TASK_MIN=" + std::to_string(min) +
                        " by SLURM_ARRAY_TASK_STEP=" + std::to_string(step) +
                        " (use --array=0-N or MIN-MAX:STEP, or give --shard i/n)");
    *index = (task - min) / step;
    *count = tasks;
    *note = "shard " + std::to_string(*index) + "/" + std::to_string(*count) + " from SLURM_ARRAY_TASK_ID=" +
            std::to_string(task);
    return true;
}

// Opens OUT for --resume (in a working copy, io/durable_output.hpp): same
// sweep, finished runs kept (their configs must match the current sweep's),
// unfinished groups dropped.
std::unique_ptr<DurableOutput> open_for_resume(const std::string& out, const std::string& sweep_path,
                                               const SweepSpec& spec, int64_t shard_index, int64_t shard_count,
                                               std::map<int64_t, std::string>* finished) {
    std::unique_ptr<DurableOutput> durable = DurableOutput::resume(out);
    const hid_t file = durable->id();
    const SweepFileHeader h = read_sweep_header(file, out);
    const auto first_line = [](const std::string& t) { return t.substr(0, t.find('\n')); };
    const auto rest = [](const std::string& t) { return t.substr(std::min(t.size(), t.find('\n'))); };
    if (h.sweep_text != spec.text && rest(h.sweep_text) == rest(spec.text))
        throw UserError("--resume: " + out + " was made from a different config: its `sweep` attribute has '" +
                        first_line(h.sweep_text) + "', now '" + first_line(spec.text) +
                        "' (if that is the same file, run from the directory the sweep was started in)");
    if (h.sweep_text != spec.text)
        throw UserError("--resume: " + out + " was made from a different config (its `sweep` attribute differs from " +
                        sweep_path +
                        " as resolved now, --set options included); use another -o, or --overwrite to start again");
    // The same shard: another one would relabel the file and fill it with
    // other shards' runs.
    if (h.shard_index != shard_index || h.shard_count != shard_count)
        throw UserError("--resume: " + out + " is shard " + std::to_string(h.shard_index) + "/" +
                        std::to_string(h.shard_count) + " of its sweep, not " + std::to_string(shard_index) + "/" +
                        std::to_string(shard_count) + "; resume it with --shard " + std::to_string(h.shard_index) +
                        "/" + std::to_string(h.shard_count));
    drop_unfinished_runs(file);
    *finished = finished_runs(file);
    for (const auto& [i, status] : *finished) {
        if (i >= int64_t(spec.runs.size()))
            throw UserError("--resume: " + out + " holds run " + std::to_string(i) + " but the sweep has only " +
                            std::to_string(spec.runs.size()) + " runs (made from a different config)");
        if (run_config_text(file, i) != to_yaml(spec.runs[size_t(i)].config))
            throw UserError("--resume: " + out + " was made from a different config (run " + std::to_string(i) +
                            "'s config differs: was the base file " + spec.base_path + " edited?)");
    }
    return durable;
}

}  // namespace

int cmd_sweep(int argc, char** argv) {
    const app::Args args = app::parse_args(argc, argv, 2,
                                           {{"-o", true, false},
                                            {"--set", true, true},
                                            {"--threads", true, false},
                                            {"--backend", true, false},
                                            {"--shard", true, false},
                                            {"--resume", false, false},
                                            {"--overwrite", false, false},
                                            {"--quiet", false, false},
                                            {"--help", false, false},
                                            {"-h", false, false}},
                                           "sweep");
    if (args.has("--help") || args.has("-h")) {
        std::fputs(kHelp, stdout);
        std::fputs("\nDocumentation: docs/guide/sweep.md\n", stdout);  // the user guide's page
        return 0;
    }
    if (args.positional.size() != 1) throw UserError("sweep takes exactly one SWEEP.yaml file (see --help)");
    if (!args.has("-o")) throw UserError("-o OUT.h5 is required");
    const bool resume = args.has("--resume"), quiet = args.has("--quiet");
    if (resume && args.has("--overwrite")) throw UserError("--resume and --overwrite exclude each other");
    int64_t shard_index = 0, shard_count = 1;
    std::string shard_note;
    if (args.has("--shard")) parse_shard(args.get("--shard"), &shard_index, &shard_count);
    else shard_from_slurm(&shard_index, &shard_count, &shard_note);
    int threads = std::max(1u, std::thread::hardware_concurrency());
    if (args.has("--threads")) threads = app::parse_threads(args.get("--threads"));
    const std::string sweep_path = args.positional[0], out = args.get("-o");
    if (!resume) check_output(out, args.has("--overwrite"));

    // Everything is validated before the output file is touched.
    const SweepSpec spec = load_sweep(sweep_path, args.all("--set"));
    check_not_input(out, {sweep_path, spec.base_path});
    // Plans are made run by run and not kept (a sweep may have 10^6 runs); the
    // scheduler keeps one number per run, its weight count.
    std::vector<double> weights(spec.runs.size(), 0.0);
    {  // before any plan is made (plans size tables by the config), --resume included
        MemoryBound largest;
        int64_t largest_run = 0;
        for (const SweepRun& run : spec.runs) {
            MemoryBound m = memory_from_config(run.config);
            if (m.bytes > largest.bytes) largest = std::move(m), largest_run = run.index;
        }
        const long double total = static_cast<long double>(largest.bytes) * threads;
        check_memory(total >= 9e18L ? static_cast<long long>(9e18) : static_cast<long long>(total),
                     "run " + std::to_string(largest_run) + " (" + largest.key + ") x --threads " +
                         std::to_string(threads));
    }
    const auto backend = choose_backend(
        args.get("--backend", "auto"),
        [&](const Backend& b) {
            for (const SweepRun& run : spec.runs) b.check(run.config, make_plan(run.config));
        },
        quiet, "sweep");
    if (!quiet && !shard_note.empty()) std::fprintf(stderr, "dynshare sweep: %s\n", shard_note.c_str());
    app::install_interrupt_handlers();

    // The scheduler's weight counts (the memory was checked above).
    for (const SweepRun& run : spec.runs) {
        if (app::interrupted()) break;
        const RunPlan plan = make_plan(run.config);
        for (const LayerPlan& l : plan.layers) weights[size_t(run.index)] += double(l.weight_count());
    }
    if (app::interrupted()) {  // a signal while the sweep was planned: nothing was created
        std::fprintf(stderr, "dynshare sweep: interrupted before any run; nothing was written\n");
        return app::kInterruptedExit;
    }
    std::map<int64_t, std::string> finished;
    // Written in a working copy beside OUT.h5 and published over it once its
    // header is written (then it is a valid, resumable sweep file), after
    // finished runs (at most ~10% of the time) and at the end; OUT.h5 is
    // never modified in place (io/durable_output.hpp).
    const std::unique_ptr<DurableOutput> file =
        resume ? open_for_resume(out, sweep_path, spec, shard_index, shard_count, &finished)
               : std::make_unique<DurableOutput>(out, args.has("--overwrite"));
    const SweepFileHeader header{spec.text, int64_t(spec.runs.size()), shard_index, shard_count};
    write_sweep_header(file->id(), header);
    file->publish(true);

    std::vector<const SweepRun*> pending;
    int64_t total_presentations = 0;
    for (const SweepRun& run : spec.runs)
        if (run.index % shard_count == shard_index && !finished.count(run.index)) {
            pending.push_back(&run);
            total_presentations += run.config.run.presentations;
        }
    // Longest runs first, so that no thread is left with a long run at the
    // end (the order does not change any result: runs are independent).
    const auto cost = [&weights](const SweepRun* r) {
        const SimConfig& c = r->config;
        return double(c.run.presentations) * double(c.steps_per_presentation()) * weights[size_t(r->index)];
    };
    std::stable_sort(pending.begin(), pending.end(),
                     [&cost](const SweepRun* a, const SweepRun* b) { return cost(a) > cost(b); });
    const int nthreads = int(std::min<size_t>(size_t(threads), std::max<size_t>(1, pending.size())));

    const auto t0 = std::chrono::steady_clock::now();
    Pool pool;
    pool.running = nthreads;
    {
        app::ProgressBar bar("presentations");
        std::vector<std::thread> workers;
        if (backend->name() == "cpu") {
            for (int t = 0; t < nthreads; ++t)
                workers.emplace_back([&pool, &pending, &file] { worker(pool, pending, *file); });
        } else {
            pool.running = 1;
            workers.emplace_back([&] {
                h5::silence_errors();
                try {
                    run_on_device(*backend, pool, pending, *file);
                } catch (...) {
                    pool.error = std::current_exception();
                }
                pool.running.fetch_sub(1);
            });
        }
        while (pool.running.load() > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            bar.update(pool.presentations.load(), total_presentations);
        }
        for (std::thread& w : workers) w.join();
        bar.finish();
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const SweepTally tally = finish_sweep_file(file->id(), spec.keys, header);
    file->close_and_publish();  // the last publish: a rename, not a copy
    if (pool.error) std::rethrow_exception(pool.error);

    if (!quiet) {
        std::fprintf(stderr,
                     "wrote %s: shard %lld/%lld of %lld runs, %lld finished runs in the file (%lld now, %zu kept), %s, "
                     "%.2f s (%.2f s writing), %d thread%s\n",
                     out.c_str(), static_cast<long long>(shard_index), static_cast<long long>(shard_count),
                     static_cast<long long>(spec.runs.size()), static_cast<long long>(tally.done),
                     static_cast<long long>(pool.written.load()), finished.size(),
                     tally.complete ? "complete" : "incomplete (complete = 0; rerun with --resume)", secs,
                     pool.write_seconds, nthreads, nthreads == 1 ? "" : "s");
    }
    if (app::interrupted() && !tally.complete) return app::kInterruptedExit;
    if (tally.diverged > 0) {
        std::fprintf(stderr, "dynshare sweep: error: %lld run%s diverged (status = diverged), e.g. %s\n",
                     static_cast<long long>(tally.diverged), tally.diverged == 1 ? "" : "s",
                     pool.first_divergence.empty() ? "see the file" : pool.first_divergence.c_str());
        return 3;
    }
    return 0;
}

}  // namespace dynshare::cli
