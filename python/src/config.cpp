// SPDX-License-Identifier: BSD-3-Clause
// Configs from Python: a file, YAML text or the default, with --set style
// overrides; the same parser, schema and validation as the CLI.
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "dynshare/sleep_phase.hpp"
#include "io/config_yaml.hpp"

namespace dynshare::python {

SimConfig resolve_config(const std::optional<std::string>& path, const std::optional<std::string>& text,
                         const std::string& origin, const std::vector<std::string>& sets) {
    if (path) return load_config(*path, sets);
    if (text) return parse_config(*text, sets, origin);
    return load_config("", sets);
}

void bind_config(py::module_& m) {
    m.def(
        "resolve_config",
        [](const std::optional<std::string>& path, const std::optional<std::string>& text, const std::string& origin,
           const std::vector<std::string>& sets) { return to_yaml(resolve_config(path, text, origin, sets)); },
        py::arg("path"), py::arg("text"), py::arg("origin"), py::arg("sets"),
        "The resolved, validated config as YAML (ConfigError with the CLI's message).");
    m.def(
        "sleep_phase_defaults", [] { return to_yaml(sleep_phase_defaults()); },
        "The trainer's sleep-phase parameters (the `sleep` section's defaults) as YAML.");
}

}  // namespace dynshare::python
