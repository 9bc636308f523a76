// SPDX-License-Identifier: BSD-3-Clause
#include "cli/backend_choice.hpp"

#include <cstdio>

#include "dynshare/errors.hpp"

namespace dynshare::cli {

std::unique_ptr<Backend> choose_backend(const std::string& flag_value,
                                        const std::function<void(const Backend&)>& check_all, bool quiet,
                                        const char* command) {
    const BackendKind kind = parse_backend(flag_value);
    std::string notice;
    std::unique_ptr<Backend> backend = make_backend(kind, &notice);
    bool fell_back = false;
    try {
        check_all(*backend);
    } catch (const UserError& e) {
        if (kind != BackendKind::automatic) throw;
        notice = std::string("backend: cpu (") + e.what() + ")";
        backend = make_cpu_backend();
        fell_back = true;
        check_all(*backend);
    }
    if (kind == BackendKind::automatic && !quiet && !notice.empty() && (backend->name() != "cpu" || fell_back))
        std::fprintf(stderr, "dynshare %s: %s\n", command, notice.c_str());
    return backend;
}

std::unique_ptr<Backend> choose_backend(const std::string& flag_value, const SimConfig& cfg, const RunPlan& plan,
                                        bool quiet, const char* command) {
    return choose_backend(
        flag_value, [&](const Backend& b) { b.check(cfg, plan); }, quiet, command);
}

}  // namespace dynshare::cli
