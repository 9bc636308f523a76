// SPDX-License-Identifier: BSD-3-Clause
// dynshare.simulate: one run written through the CLI's own path (RunWriter
// into a DurableOutput), so the file is the one `dynshare simulate` writes,
// bit for bit; the Python layer reads it back with the one reader.
#include <pybind11/stl.h>

#include <memory>

#include "bindings.hpp"
#include "cli/backend_choice.hpp"
#include "cli/memory_first.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/plan.hpp"
#include "io/config_yaml.hpp"
#include "io/durable_output.hpp"
#include "io/output_file.hpp"
#include "io/run_file.hpp"
#include "io/stack_file.hpp"

namespace dynshare::python {

namespace {

py::dict simulate(const std::optional<std::string>& path, const std::optional<std::string>& text,
                  const std::string& origin, const std::vector<std::string>& sets, const std::string& out,
                  bool overwrite, int threads, const std::string& backend_name, py::object progress) {
    // Everything is validated before the output is created (as cmd_simulate).
    const SimConfig cfg = resolve_config(path, text, origin, sets);
    check_output(out, overwrite, "out");
    // The run's thread count first: the memory bound counts each thread's block scratch.
    const OmpThreads omp(threads);
    cli::check_memory_from_config(cfg);  // before the plan sizes its tables (src/cli/memory_first.hpp)
    const RunPlan plan = make_plan(cfg);
    const auto backend = cli::choose_backend(backend_name, cfg, plan, true, "simulate");
    const std::string yaml = to_yaml(cfg);
    Watch watch(std::move(progress));
    RunResult result;
    {
        DurableOutput file(out, overwrite, "out");
        std::unique_ptr<RunWriter> writer;
        if (plan.kind == PlanKind::stack) writer = std::make_unique<StackFileWriter>(file.id(), cfg, yaml, plan, false);
        else writer = std::make_unique<RunGroupWriter>(file.id(), cfg, yaml, false);
        writer->publish = [&file](bool force) { file.publish(force); };
        writer->stop = [&watch] { return watch.stop(); };
        writer->progress = [&watch](int64_t d, int64_t t) { watch.progress(d, t); };
        py::gil_scoped_release nogil;
        result = backend->run(cfg, plan, {}, *writer, nullptr);
        writer->publish = nullptr;
        writer->finish(result);
        writer.reset();
        file.close_and_publish();
    }
    watch.finish();  // raises KeyboardInterrupt (or the callback's exception) now that the file is valid
    py::dict d;
    d["status"] = result.status == RunStatus::complete ? "complete"
                  : result.status == RunStatus::interrupted ? "interrupted" : "diverged";
    d["message"] = result.message;
    d["seconds"] = result.seconds;
    d["backend"] = backend->name();
    d["presentations"] = result.state.presentation;
    return d;
}

}  // namespace

void bind_simulate(py::module_& m) {
    m.def("simulate", &simulate, py::arg("path"), py::arg("text"), py::arg("origin"), py::arg("sets"), py::arg("out"),
          py::arg("overwrite"), py::arg("threads"), py::arg("backend"), py::arg("progress"),
          "One run into the HDF5 file `out`, exactly as `dynshare simulate` writes it.");
}

}  // namespace dynshare::python
