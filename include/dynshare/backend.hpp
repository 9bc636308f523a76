// One interface, two implementations (CPU, CUDA), chosen at run time. The
// engine's callers (CLI, sweep, trainer) only see this.
#pragma once
#include <memory>
#include <string>

#include "dynshare/single_layer.hpp"

namespace dynshare {

enum class BackendKind { cpu, cuda, automatic };

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    virtual SingleLayerResult run_single(const SimConfig& cfg, RunObserver& observer,
                                         const LayerCheckpoint* resume) = 0;
};

// "cpu" | "cuda" | "auto"; throws UserError for other spellings.
BackendKind parse_backend(const std::string& s);

// `auto` picks CUDA when it was built and a device is usable, else the CPU,
// and sets *notice to a one-line explanation. `cuda` without a usable device
// throws UserError.
std::unique_ptr<Backend> make_backend(BackendKind kind, std::string* notice);

std::unique_ptr<Backend> make_cpu_backend();

// Whether the CUDA backend was compiled in and a device can be used; when
// not, *why says which of the two failed.
bool cuda_usable(std::string* why);
std::unique_ptr<Backend> make_cuda_backend();  // only when cuda_usable()

}  // namespace dynshare
