#include "dynshare/backend.hpp"

#include "dynshare/errors.hpp"

namespace dynshare {

namespace {
class CpuBackend final : public Backend {
public:
    std::string name() const override { return "cpu"; }
    SingleLayerResult run_single(const SimConfig& cfg, RunObserver& observer, const LayerCheckpoint* resume) override {
        return run_single_layer(cfg, observer, resume);
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
