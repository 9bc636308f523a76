// SPDX-License-Identifier: BSD-3-Clause
// What a run reports while it goes (records, checkpoints, progress), how it
// is asked to stop (Ctrl-C), and the one state type that a checkpoint holds,
// for every plan: a single layer is a plan of one layer. The HDF5 writers,
// the sweep collector, the trainer's sleep phase and the tests implement it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dynshare {

// One layer's state at a presentation boundary, neurons in the layer's
// output order (a single layer: neuron index; LC layers: the layout of
// lc_geometry.hpp). w, w0, v: n x k row-major; r: n; r_inh: one per module,
// in the plan's module order.
struct LayerState {
    int64_t n = 0, k = 0;
    std::vector<double> w, w0, v, r, r_inh;
};

// Everything needed to continue a run bit-identically, taken at a
// presentation boundary (the random generator's state is the presentation
// index, since draws are counter-based).
struct RunState {
    int64_t presentation = 0;   // presentations completed
    int64_t step = 0;           // integration steps (iterations for ideal) completed
    std::vector<LayerState> layers;
};

class RunObserver {
public:
    virtual ~RunObserver() = default;
    virtual void on_begin(const RunState& /*initial*/) {}
    // One record, one value per layer: -log SNR_w (Eq. 6, module-averaged) and
    // the mean over modules and inputs of |mean w| / std w.
    virtual void on_record(int64_t step, double time, const std::vector<double>& neg_log_snr,
                           const std::vector<double>& mean_abs_over_std) = 0;
    virtual void on_checkpoint(const RunState& /*state*/) {}
    virtual void on_progress(int64_t /*done*/, int64_t /*total*/) {}
    virtual bool stop_requested() { return false; }
    // false: the CPU engine makes no state copies for this observer: it does
    // not call on_begin and on_checkpoint, and RunResult::state holds w, r and
    // r_inh only (w0 and v empty; no theory_min). The trainer's sleep phase,
    // which needs only the final weights, saves several passes over every
    // weight. (Other backends may still call them.)
    virtual bool wants_states() const { return true; }
    // The inputs of layer l in presentation p, rows in the plan's module
    // order (n x fan_in). Only called when wants_inputs() (tests).
    virtual bool wants_inputs() const { return false; }
    virtual void on_inputs(int64_t /*p*/, int /*l*/, const double* /*x*/) {}
};

enum class RunStatus { complete, interrupted, diverged };

}  // namespace dynshare
