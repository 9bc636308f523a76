// What a run reports while it goes: records, checkpoints, progress; and how
// it is asked to stop (Ctrl-C). The HDF5 writer and the tests implement it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dynshare {

// Everything needed to continue a single-layer run bit-identically, taken at
// a presentation boundary (the random generator's state is the presentation
// index, since draws are counter-based).
struct LayerCheckpoint {
    int64_t presentation = 0;   // presentations completed
    int64_t step = 0;           // integration steps (iterations for ideal) completed
    int64_t n = 0, k = 0;
    std::vector<double> w, w0, v, r, r_inh;
};

class RunObserver {
public:
    virtual ~RunObserver() = default;
    virtual void on_begin(const LayerCheckpoint& /*initial*/) {}
    // One record: -log SNR_w per layer (one value for a single layer).
    virtual void on_record(int64_t step, double time, const std::vector<double>& neg_log_snr) = 0;
    virtual void on_checkpoint(const LayerCheckpoint& /*state*/) {}
    virtual void on_progress(int64_t /*done*/, int64_t /*total*/) {}
    virtual bool stop_requested() { return false; }
};

enum class RunStatus { complete, interrupted, diverged };

}  // namespace dynshare
