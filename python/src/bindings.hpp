// SPDX-License-Identifier: BSD-3-Clause
// Shared pieces of the Python bindings (one file per topic, as arbor's
// python/ does): config.cpp, simulate.cpp, sweep.cpp, sleep_phase.cpp, and
// this file's Watch (Ctrl-C and progress while the engine runs without the
// GIL) and OmpThreads.
#pragma once
#include <pybind11/pybind11.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dynshare/config.hpp"

namespace dynshare::python {

namespace py = pybind11;

void bind_config(py::module_& m);
void bind_simulate(py::module_& m);
void bind_sweep(py::module_& m);
void bind_sleep_phase(py::module_& m);

// A config from the Python side's three forms, resolved like the CLI does:
// `path` (a file: load_config), else `text` (YAML text, errors named by
// `origin`), else the built-in default; then the `sets` ("key.path=value").
SimConfig resolve_config(const std::optional<std::string>& path, const std::optional<std::string>& text,
                         const std::string& origin, const std::vector<std::string>& sets);

// Polled by a run's observer (stop_requested) on the engine's thread, which
// runs with the GIL released: at most every 50 ms it takes the GIL, lets
// Python run its signal handlers (PyErr_CheckSignals: Ctrl-C raises
// KeyboardInterrupt there) and calls the progress callback. An exception in
// either stops the run at the engine's next presentation boundary; rethrow()
// raises it once the output is closed.
class Watch {
public:
    explicit Watch(py::object progress);  // GIL held
    ~Watch();
    // Engine thread, GIL released: whether to stop.
    bool stop();
    // Engine thread: presentations done of total (read at the next poll).
    void progress(int64_t done, int64_t total) {
        done_.store(done);
        total_.store(total);
    }
    // GIL held: a last progress call, then the stored exception, if any.
    void finish();

private:
    void poll();  // GIL held
    py::object callback_;
    std::atomic<int64_t> done_{0}, total_{0};
    std::chrono::steady_clock::time_point last_;
    std::atomic<bool> stopped_{false};
    std::optional<py::error_already_set> error_;
};

// omp_set_num_threads(n) for a scope (n <= 0: unchanged), restored after.
class OmpThreads {
public:
    explicit OmpThreads(int n);
    ~OmpThreads();
    OmpThreads(const OmpThreads&) = delete;
    OmpThreads& operator=(const OmpThreads&) = delete;

private:
    int saved_;
};

}  // namespace dynshare::python
