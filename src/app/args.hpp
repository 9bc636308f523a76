// SPDX-License-Identifier: BSD-3-Clause
// A small, strict argument parser: every subcommand lists its flags, and an
// unknown flag is a one-line error (exit 2) that names it.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace dynshare::app {

struct FlagSpec {
    std::string name;      // "--set", "-o"
    bool takes_value;
    bool repeatable;
};

struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::vector<std::string>> values;  // flag -> values (empty for switches)
    bool has(const std::string& f) const { return values.count(f) > 0; }
    std::string get(const std::string& f, const std::string& fallback = "") const;
    const std::vector<std::string>& all(const std::string& f) const;
};

// Parses argv[first..argc). Throws UserError for unknown flags or missing values.
Args parse_args(int argc, char** argv, int first, const std::vector<FlagSpec>& specs, const std::string& command);

int parse_int(const std::string& s, const std::string& what);

// --threads N, the same rule in every command: an integer from 1 to 1024.
int parse_threads(const std::string& s);

}  // namespace dynshare::app
