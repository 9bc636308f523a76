// One interface, two implementations (CPU, CUDA), chosen at run time. The
// engine's callers (CLI, sweep, trainer) only see this.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "dynshare/single_layer.hpp"

namespace dynshare {

enum class BackendKind { cpu, cuda, automatic };

// How run_batch treats its runs.
struct BatchOptions {
    // Call on_checkpoint at every run.checkpoint_every boundary, as run_single
    // does (the CUDA backend copies every run's weights back for it; a sweep
    // that ignores checkpoints sets this to false).
    bool checkpoints = true;
    // Return each run's final weights in SingleLayerResult::state (false: the
    // state holds the counters and the rates only; w, w0, v stay empty).
    bool final_state = true;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    virtual SingleLayerResult run_single(const SimConfig& cfg, RunObserver& observer,
                                         const LayerCheckpoint* resume) = 0;
    // Many independent single-layer runs, from the start; observers[i] gets
    // run i's reports, in order for each run (interleaved across runs). The
    // results are in the order of cfgs. Default: one after another through
    // run_single. The CUDA backend integrates them together on the device.
    virtual std::vector<SingleLayerResult> run_batch(const std::vector<SimConfig>& cfgs,
                                                     const std::vector<RunObserver*>& observers,
                                                     const BatchOptions& options = BatchOptions{}) {
        std::vector<SingleLayerResult> out;
        out.reserve(cfgs.size());
        for (size_t i = 0; i < cfgs.size(); ++i) {
            out.push_back(run_single(cfgs[i], *observers.at(i), nullptr));
            if (!options.final_state) {
                LayerCheckpoint& st = out.back().state;
                st.w.clear();
                st.w0.clear();
                st.v.clear();
            }
        }
        return out;
    }
};

// Arithmetic of the CUDA backend's per-neuron state (the CPU is always fp64).
enum class DevicePrecision { fp32, fp64 };

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
// Only when cuda_usable(). The precision is fp32 unless the environment
// variable DYNSHARE_CUDA_PRECISION is "fp64" (read here; "fp32" or unset:
// fp32; anything else: UserError).
std::unique_ptr<Backend> make_cuda_backend();
std::unique_ptr<Backend> make_cuda_backend(DevicePrecision precision);

}  // namespace dynshare
