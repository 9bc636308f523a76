// SPDX-License-Identifier: BSD-3-Clause
#include <omp.h>

#include "bindings.hpp"

namespace dynshare::python {

Watch::Watch(py::object progress) : callback_(std::move(progress)), last_(std::chrono::steady_clock::now()) {}

Watch::~Watch() {
    // The callback and a stored exception are Python objects: released with the GIL.
    py::gil_scoped_acquire gil;
    callback_ = py::object();
    error_.reset();
}

bool Watch::stop() {
    if (stopped_.load()) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(50)) return false;
    last_ = now;
    py::gil_scoped_acquire gil;
    poll();
    return stopped_.load();
}

void Watch::poll() {
    // Python runs signal handlers only in the main thread; elsewhere this is a no-op.
    if (PyErr_CheckSignals() != 0) {
        error_.emplace();  // fetches the pending exception (KeyboardInterrupt)
        stopped_.store(true);
        return;
    }
    if (callback_ && !callback_.is_none()) {
        try {
            callback_(done_.load(), total_.load());
        } catch (py::error_already_set& e) {
            error_.emplace(std::move(e));
            stopped_.store(true);
        }
    }
}

void Watch::finish() {
    if (!error_) poll();
    if (error_) {
        py::error_already_set e = std::move(*error_);
        error_.reset();
        throw e;
    }
}

OmpThreads::OmpThreads(int n) : saved_(omp_get_max_threads()) {
    if (n > 0) omp_set_num_threads(n);
}
OmpThreads::~OmpThreads() { omp_set_num_threads(saved_); }

}  // namespace dynshare::python
