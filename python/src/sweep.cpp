// SPDX-License-Identifier: BSD-3-Clause
// dynshare.sweep: every run of a sweep file into one HDF5 file, through the
// CLI's own pieces (load_sweep, RunCollector, write_sweep_run,
// finish_sweep_file, DurableOutput), so the file is the one `dynshare sweep`
// writes. Runs go in parallel, one thread each; the calling thread keeps
// polling Python (Watch) for Ctrl-C and progress.
#include <omp.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>

#include "bindings.hpp"
#include "cli/backend_choice.hpp"
#include "cli/memory_first.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/errors.hpp"
#include "io/config_yaml.hpp"
#include "io/durable_output.hpp"
#include "io/output_file.hpp"
#include "io/sweep_config.hpp"
#include "io/sweep_file.hpp"

namespace dynshare::python {

namespace {

struct Pool {
    std::atomic<size_t> next{0};
    std::atomic<bool> abort{false};
    std::atomic<int64_t> presentations{0}, diverged{0};
    std::atomic<int> running{0};
    std::mutex file_mutex;  // every HDF5 call on the output file
    std::exception_ptr error;
};

void cpu_worker(Pool& pool, const std::vector<const SweepRun*>& pending, DurableOutput& file) {
    omp_set_num_threads(1);  // each run single-threaded; the sweep is parallel over runs
    const auto backend = make_cpu_backend();
    for (;;) {
        if (pool.abort.load()) break;
        const size_t j = pool.next.fetch_add(1);
        if (j >= pending.size()) break;
        const SweepRun& run = *pending[j];
        try {
            RunCollector data;
            data.stop = [&pool] { return pool.abort.load(); };
            data.progress = [&pool](int64_t d) { pool.presentations.fetch_add(d); };
            const RunPlan plan = make_plan(run.config);
            const RunResult result = backend->run(run.config, plan, {}, data, nullptr);
            if (result.status == RunStatus::interrupted) continue;  // not written
            const std::string yaml = to_yaml(run.config);
            std::lock_guard<std::mutex> lock(pool.file_mutex);
            write_sweep_run(file.id(), run, plan, yaml, data, result);
            file.publish(false);
            if (result.status == RunStatus::diverged) pool.diverged.fetch_add(1);
        } catch (...) {
            std::lock_guard<std::mutex> lock(pool.file_mutex);
            if (!pool.error) pool.error = std::current_exception();
            pool.abort.store(true);
        }
    }
    pool.running.fetch_sub(1);
}

// A non-CPU backend (CUDA): all runs in one batch, written afterwards.
void device_worker(Backend& backend, Pool& pool, const std::vector<const SweepRun*>& pending, DurableOutput& file) {
    try {
        std::vector<RunCollector> data(pending.size());
        std::vector<SimConfig> cfgs;
        std::vector<RunObserver*> observers;
        for (size_t i = 0; i < pending.size(); ++i) {
            data[i].stop = [&pool] { return pool.abort.load(); };
            data[i].progress = [&pool](int64_t d) { pool.presentations.fetch_add(d); };
            cfgs.push_back(pending[i]->config);
            observers.push_back(&data[i]);
        }
        const std::vector<RunResult> results = backend.run_batch(cfgs, observers, BatchOptions{false, true});
        for (size_t i = 0; i < pending.size(); ++i) {
            if (results[i].status == RunStatus::interrupted) continue;
            const SweepRun& run = *pending[i];
            std::lock_guard<std::mutex> lock(pool.file_mutex);
            write_sweep_run(file.id(), run, make_plan(run.config), to_yaml(run.config), data[i], results[i]);
            file.publish(false);
            if (results[i].status == RunStatus::diverged) pool.diverged.fetch_add(1);
        }
    } catch (...) {
        pool.error = std::current_exception();
    }
    pool.running.fetch_sub(1);
}

py::dict sweep(const std::string& sweep_path, const std::vector<std::string>& sets, const std::string& out,
               bool overwrite, int threads, const std::string& backend_name, py::object progress) {
    check_output(out, overwrite, "out");
    const SweepSpec spec = load_sweep(sweep_path, sets);
    if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
    {  // before any plan is made (plans size tables by the config): src/cli/memory_first.hpp
        cli::MemoryBound largest;
        for (const SweepRun& run : spec.runs) {
            cli::MemoryBound m = cli::memory_from_config(run.config);
            if (m.bytes > largest.bytes) largest = std::move(m);
        }
        const long double total = static_cast<long double>(largest.bytes) * threads;
        check_memory(total >= 9e18L ? static_cast<long long>(9e18) : static_cast<long long>(total),
                     "the largest run (" + largest.key + ") x threads = " + std::to_string(threads));
    }
    const auto backend = cli::choose_backend(
        backend_name,
        [&](const Backend& b) {
            for (const SweepRun& run : spec.runs) b.check(run.config, make_plan(run.config));
        },
        true, "sweep");
    std::vector<double> weights(spec.runs.size(), 0.0);
    for (const SweepRun& run : spec.runs) {
        const RunPlan plan = make_plan(run.config);
        for (const LayerPlan& l : plan.layers) weights[size_t(run.index)] += double(l.weight_count());
    }

    std::vector<const SweepRun*> pending;
    int64_t total = 0;
    for (const SweepRun& run : spec.runs) {
        pending.push_back(&run);
        total += run.config.run.presentations;
    }
    // Longest runs first (as cmd_sweep; the order changes no result).
    const auto cost = [&weights](const SweepRun* r) {
        return double(r->config.run.presentations) * double(r->config.steps_per_presentation()) *
               weights[size_t(r->index)];
    };
    std::stable_sort(pending.begin(), pending.end(),
                     [&cost](const SweepRun* a, const SweepRun* b) { return cost(a) > cost(b); });
    const int nthreads = int(std::min<size_t>(size_t(threads), std::max<size_t>(1, pending.size())));

    Watch watch(std::move(progress));
    Pool pool;
    SweepTally tally;
    {
        DurableOutput file(out, overwrite, "out");
        const SweepFileHeader header{spec.text, int64_t(spec.runs.size()), 0, 1};
        write_sweep_header(file.id(), header);
        file.publish(true);
        py::gil_scoped_release nogil;
        std::vector<std::thread> workers;
        if (backend->name() == "cpu") {
            pool.running = nthreads;
            for (int t = 0; t < nthreads; ++t)
                workers.emplace_back([&pool, &pending, &file] { cpu_worker(pool, pending, file); });
        } else {
            pool.running = 1;
            workers.emplace_back([&] { device_worker(*backend, pool, pending, file); });
        }
        while (pool.running.load() > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            watch.progress(pool.presentations.load(), total);
            if (watch.stop()) pool.abort.store(true);
        }
        for (std::thread& w : workers) w.join();
        tally = finish_sweep_file(file.id(), spec.keys, header);
        file.close_and_publish();
    }
    if (pool.error) std::rethrow_exception(pool.error);
    watch.finish();
    py::dict d;
    d["runs"] = int64_t(spec.runs.size());
    d["done"] = tally.done;
    d["diverged"] = tally.diverged;
    d["complete"] = tally.complete;
    d["backend"] = backend->name();
    return d;
}

}  // namespace

void bind_sweep(py::module_& m) {
    m.def("sweep", &sweep, py::arg("path"), py::arg("sets"), py::arg("out"), py::arg("overwrite"), py::arg("threads"),
          py::arg("backend"), py::arg("progress"),
          "Every run of the sweep file `path` into the HDF5 file `out`, as `dynshare sweep` writes it.");
}

}  // namespace dynshare::python
