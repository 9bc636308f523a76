// The HDF5 layout of one run (README "HDF5 layout"), written into a group:
// the file's root for `dynshare simulate`, /runs/<i> for a sweep.
// Records are buffered and reach the file at every checkpoint, so a run that
// is stopped leaves a valid file holding everything up to its last checkpoint.
#pragma once
#include <hdf5.h>

#include <functional>
#include <string>
#include <vector>

#include "dynshare/config.hpp"
#include "dynshare/run_observer.hpp"
#include "dynshare/single_layer.hpp"
#include "io/h5.hpp"

namespace dynshare {

class RunGroupWriter : public RunObserver {
public:
    // `group` must stay open while the writer is used; `resumed` opens the
    // existing datasets instead of creating them.
    RunGroupWriter(hid_t file, hid_t group, const SimConfig& cfg, const std::string& config_yaml, bool resumed);

    std::function<bool()> stop;                          // asked between presentations
    std::function<void(int64_t, int64_t)> progress;      // presentations done / total

    void on_begin(const LayerCheckpoint& initial) override;
    void on_record(int64_t step, double time, const std::vector<double>& neg_log_snr) override;
    void on_checkpoint(const LayerCheckpoint& state) override;
    void on_progress(int64_t done, int64_t total) override;
    bool stop_requested() override { return stop && stop(); }

    // Writes the final state, theory minimum and the `complete` flag.
    void finish(const SingleLayerResult& result);

private:
    void flush_records();
    hid_t file_, group_;
    int64_t layers_;
    h5::Appendable step_, time_, nls_;
    std::vector<int64_t> steps_buf_;
    std::vector<double> time_buf_, nls_buf_;
};

// The checkpoint stored in a run group (throws UserError if there is none).
LayerCheckpoint read_checkpoint(hid_t group);
// Drops records after `step` (those written after the checkpoint being resumed).
void truncate_records(hid_t group, int64_t step);

}  // namespace dynshare
