// SPDX-License-Identifier: BSD-3-Clause
#include "app/args.hpp"

#include <stdexcept>

#include "dynshare/errors.hpp"

namespace dynshare::app {

std::string Args::get(const std::string& f, const std::string& fallback) const {
    auto it = values.find(f);
    return (it == values.end() || it->second.empty()) ? fallback : it->second.back();
}

const std::vector<std::string>& Args::all(const std::string& f) const {
    static const std::vector<std::string> none;
    auto it = values.find(f);
    return it == values.end() ? none : it->second;
}

Args parse_args(int argc, char** argv, int first, const std::vector<FlagSpec>& specs, const std::string& command) {
    Args a;
    for (int i = first; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.size() < 2 || arg[0] != '-' || arg == "--") {
            a.positional.push_back(arg);
            continue;
        }
        std::string value;
        bool inline_value = false;
        if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            inline_value = true;
        }
        const FlagSpec* spec = nullptr;
        for (const auto& s : specs)
            if (s.name == arg) spec = &s;
        if (!spec) {
            std::string allowed;
            for (const auto& s : specs) allowed += (allowed.empty() ? "" : ", ") + s.name;
            throw UserError(command + ": unknown option '" + arg + "' (options: " + allowed + ")");
        }
        if (spec->takes_value && !inline_value) {
            if (i + 1 >= argc) throw UserError(command + ": option " + arg + " needs a value");
            value = argv[++i];
        }
        if (!spec->repeatable && a.has(arg)) throw UserError(command + ": option " + arg + " given twice");
        auto& slot = a.values[arg];
        if (spec->takes_value) slot.push_back(value);
    }
    return a;
}

int parse_int(const std::string& s, const std::string& what) {
    try {
        size_t pos = 0;
        const int v = std::stoi(s, &pos);
        if (pos == s.size()) return v;
    } catch (const std::exception&) {
    }
    throw UserError(what + " = " + s + ": must be an integer");
}

int parse_threads(const std::string& s) {
    const int n = parse_int(s, "--threads");
    if (n < 1 || n > 1024) throw UserError("--threads = " + s + ": must be an integer from 1 to 1024");
    return n;
}

}  // namespace dynshare::app
