// SPDX-License-Identifier: BSD-3-Clause
#include "dynshare/backend.hpp"

#include <stdexcept>

#include "dynshare/errors.hpp"

namespace dynshare {

std::vector<RunResult> Backend::run_batch(const std::vector<SimConfig>& cfgs, const std::vector<RunObserver*>& observers,
                                          const BatchOptions& options) {
    std::vector<RunResult> out;
    out.reserve(cfgs.size());
    for (size_t i = 0; i < cfgs.size(); ++i) {
        out.push_back(run(cfgs[i], make_plan(cfgs[i]), {}, *observers.at(i), nullptr));
        if (!options.final_state)
            for (LayerState& s : out.back().state.layers) {
                s.w.clear();
                s.w0.clear();
                s.v.clear();
            }
    }
    return out;
}

RunResult Backend::run_resident(const SimConfig&, const RunPlan&, const ResidentWeights&, RunObserver&) {
    throw std::logic_error("backend " + name() + " takes no resident weights (runs_resident() is false)");
}

namespace {
// The CPU backend is the engine itself: it runs every plan, in fp64 or fp32.
class CpuBackend final : public Backend {
public:
    std::string name() const override { return "cpu"; }
    void check(const SimConfig&, const RunPlan&) const override {}
    RunResult run(const SimConfig& cfg, const RunPlan& plan, const std::vector<std::vector<double>>& initial,
                  RunObserver& observer, const RunState* resume) override {
        return run_engine(cfg, plan, initial, observer, resume);
    }
};
}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

BackendKind parse_backend(const std::string& s) {
    if (s == "cpu") return BackendKind::cpu;
    if (s == "cuda") return BackendKind::cuda;
    if (s == "auto") return BackendKind::automatic;
    throw UserError("--backend " + s + ": unknown backend (allowed: auto, cpu, cuda)");
}

std::unique_ptr<Backend> make_backend(BackendKind kind, std::string* notice) {
    std::string why;
    if (kind == BackendKind::cpu) return make_cpu_backend();
    if (cuda_usable(&why)) {
        if (notice) *notice = "backend: cuda";
        return make_cuda_backend();
    }
    if (kind == BackendKind::cuda) throw UserError("--backend cuda: " + why);
    if (notice) *notice = "backend: cpu (" + why + ")";
    return make_cpu_backend();
}

}  // namespace dynshare
