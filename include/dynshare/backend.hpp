// SPDX-License-Identifier: BSD-3-Clause
// One interface, two implementations (CPU, CUDA), chosen at run time, as
// arbor does. Every caller (simulate, sweep, bench, the trainer's sleep
// phase) runs plans through it; the CPU backend is the engine
// (include/dynshare/engine.hpp), the CUDA backend its device counterpart.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "dynshare/engine.hpp"
#include "dynshare/plan.hpp"
#include "dynshare/run_observer.hpp"

namespace dynshare {

enum class BackendKind { cpu, cuda, automatic };

// How run_batch treats its runs.
struct BatchOptions {
    // Call on_checkpoint at every run.checkpoint_every boundary, as run does
    // (the CUDA backend copies every run's weights back for it; a sweep that
    // ignores checkpoints sets this to false).
    bool checkpoints = true;
    // Return each run's final weights in RunResult::state (false: the state
    // holds the counters and the rates only; w, w0, v stay empty).
    bool final_state = true;
};

// Weights that live where a backend computes (the CUDA backend: device
// pointers), one float array per layer of a stacked plan, in the layout of
// include/dynshare/lc_geometry.hpp (weight_count() values each). run_resident
// reads them at the start of a run and overwrites them with the final weights
// at its end, without a copy through the host: the trainer hands its LC
// weight tensors' device storage over this way.
struct ResidentWeights {
    std::vector<float*> layers;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    // Throws UserError (one line, naming what is not supported and what to
    // use instead) when this backend cannot run `plan` as `cfg` asks. Callers
    // call it before any output file is created or touched.
    virtual void check(const SimConfig& cfg, const RunPlan& plan) const = 0;
    // Runs cfg.run.presentations presentations of `plan` from `initial` (one
    // weight vector per layer; empty: drawn from the seed) or from `resume`.
    virtual RunResult run(const SimConfig& cfg, const RunPlan& plan, const std::vector<std::vector<double>>& initial,
                          RunObserver& observer, const RunState* resume) = 0;
    // Many independent runs of their own plans (make_plan), from the start;
    // observers[i] gets run i's reports, in order for each run (interleaved
    // across runs). The results are in the order of cfgs. Default: one after
    // another through run. The CUDA backend integrates them together.
    virtual std::vector<RunResult> run_batch(const std::vector<SimConfig>& cfgs,
                                             const std::vector<RunObserver*>& observers,
                                             const BatchOptions& options = BatchOptions{});
    // Whether run_resident takes weights in this backend's own memory. The
    // CPU backend says false: host weights go through run.
    virtual bool runs_resident() const { return false; }
    // A stacked run from `weights` (ResidentWeights), from the start, with
    // the final weights written back over them (unless it diverged: then
    // they stay as they were). The observer must not want
    // states (RunObserver::wants_states) and the run takes no checkpoints:
    // the weights never reach the host. RunResult::state holds r and r_inh
    // only. Default: throws std::logic_error (backends with runs_resident()
    // false).
    virtual RunResult run_resident(const SimConfig& cfg, const RunPlan& plan, const ResidentWeights& weights,
                                   RunObserver& observer);
};

// Arithmetic of the CUDA backend's per-neuron state when run.precision is auto.
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
// Only when cuda_usable(). For run.precision = auto the precision is fp32
// unless the environment variable DYNSHARE_CUDA_PRECISION is "fp64" (read
// here; "fp32" or unset: fp32; anything else: UserError).
std::unique_ptr<Backend> make_cuda_backend();
std::unique_ptr<Backend> make_cuda_backend(DevicePrecision precision);

}  // namespace dynshare
