// SPDX-License-Identifier: BSD-3-Clause
// The extension module dynshare._core; the public API is the pure-Python
// package around it (python/dynshare/), which documents every function.
#include "bindings.hpp"

#include "dynshare/errors.hpp"
#include "dynshare/version.hpp"

PYBIND11_MODULE(_core, m) {
    namespace py = pybind11;
    m.doc() = "dynshare's C++ engine (use the package `dynshare`, not this module)";
    // UserError: the user's to fix (the CLI's exit status 2), one line.
    py::register_exception<dynshare::UserError>(m, "ConfigError", PyExc_ValueError);
    py::register_exception<dynshare::DivergenceError>(m, "DivergenceError", PyExc_RuntimeError);
    m.attr("__version__") = dynshare::version();
    m.attr("__commit__") = dynshare::commit();
    dynshare::python::bind_config(m);
    dynshare::python::bind_simulate(m);
    dynshare::python::bind_sweep(m);
    dynshare::python::bind_sleep_phase(m);
}
