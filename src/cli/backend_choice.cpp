#include "cli/backend_choice.hpp"

#include <cstdio>

#include "dynshare/errors.hpp"

namespace dynshare::cli {

std::unique_ptr<Backend> choose_backend(const std::string& flag_value, const SimConfig& cfg, const RunPlan& plan,
                                        bool quiet, const char* command) {
    const BackendKind kind = parse_backend(flag_value);
    std::string notice;
    std::unique_ptr<Backend> backend = make_backend(kind, &notice);
    try {
        backend->check(cfg, plan);
    } catch (const UserError& e) {
        if (kind != BackendKind::automatic) throw;
        notice = std::string("backend: cpu (") + e.what() + ")";
        backend = make_cpu_backend();
    }
    if (kind == BackendKind::automatic && !quiet && !notice.empty() && backend->name() != "cpu")
        std::fprintf(stderr, "dynshare %s: %s\n", command, notice.c_str());
    return backend;
}

}  // namespace dynshare::cli
