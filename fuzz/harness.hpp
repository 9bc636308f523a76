// SPDX-License-Identifier: BSD-3-Clause
// What the fuzz targets check, shared with the regression test
// (tests/test_fuzz_regressions.cpp) that replays every kept finding:
// a parser may accept its input or refuse it with dynshare::UserError (one
// line, the user's to fix); anything else (another exception, a crash, a
// sanitizer report, a hang) is a bug. Accepted configs must round-trip
// exactly through to_yaml.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dynshare/errors.hpp"
#include "io/config_yaml.hpp"
#include "io/sweep_config.hpp"

namespace dynshare::fuzz {

inline void fail(const char* what) {
    std::fprintf(stderr, "fuzz: %s\n", what);
    std::abort();
}

// The run config parser: YAML text -> validated SimConfig.
inline void config_input(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const SimConfig cfg = parse_config(text, {}, "fuzz.yaml");
        const std::string yaml = to_yaml(cfg);
        if (to_yaml(parse_config(yaml, {}, "round-trip")) != yaml) fail("to_yaml does not round-trip");
    } catch (const UserError&) {
    }
}

// --set parsing: each line of the input is one override, applied to the defaults.
inline void set_input(const uint8_t* data, size_t size) {
    std::vector<std::string> sets;
    std::string line;
    for (size_t i = 0; i < size; ++i) {
        if (data[i] == '\n') {
            sets.push_back(line);
            line.clear();
        } else {
            line.push_back(static_cast<char>(data[i]));
        }
    }
    if (!line.empty()) sets.push_back(line);
    try {
        const SimConfig cfg = parse_config("", sets, "");
        const std::string yaml = to_yaml(cfg);
        if (to_yaml(parse_config(yaml, {}, "round-trip")) != yaml) fail("to_yaml does not round-trip");
    } catch (const UserError&) {
    }
}

// The sweep parser: the input is a sweep file in a folder that also holds a
// base config (base.yaml, the Fig. 4B default), so `base: base.yaml` resolves.
inline void sweep_input(const uint8_t* data, size_t size) {
    static const std::filesystem::path dir = [] {
        const auto d = std::filesystem::temp_directory_path() / ("dynshare_fuzz_" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        std::ofstream(d / "base.yaml") << "model: ei_rate\nrun: {presentations: 10}\n";
        return d;
    }();
    const auto path = dir / "sweep.yaml";
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(data), std::streamsize(size));
    try {
        const SweepSpec spec = load_sweep(path.string(), {});
        (void)spec;
    } catch (const UserError&) {
    }
}

}  // namespace dynshare::fuzz
