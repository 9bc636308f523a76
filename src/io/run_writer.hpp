// SPDX-License-Identifier: BSD-3-Clause
// The one writer path of every run file: a RunObserver that buffers the
// records and writes them at every checkpoint (so a stopped run leaves a
// valid file holding everything up to its last checkpoint), keeps the status
// attributes (complete, status, message, presentations_done) and the common
// root attributes, and forwards stop requests and progress. What differs
// between plans is only where the weights and checkpoint arrays go: the
// one-layer layout (run_file.hpp) and the stacked layout (stack_file.hpp).
#pragma once
#include <hdf5.h>

#include <functional>
#include <string>
#include <vector>

#include "dynshare/config.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/run_observer.hpp"
#include "io/h5.hpp"

namespace dynshare {

class RunWriter : public RunObserver {
public:
    std::function<bool()> stop;                      // asked between presentations
    std::function<void(int64_t, int64_t)> progress;  // presentations done / total
    // Publishes the file (io/durable_output.hpp): forced (true) once the file
    // is valid and resumable (its initial checkpoint written) and at the end,
    // unforced (false, may be skipped) after every later checkpoint. Unset:
    // the file is only flushed.
    std::function<void(bool force)> publish;

    void on_begin(const RunState& initial) override;
    void on_record(int64_t step, double time, const std::vector<double>& neg_log_snr,
                   const std::vector<double>& mean_abs_over_std) override;
    void on_checkpoint(const RunState& state) override;
    void on_progress(int64_t done, int64_t total) override;
    bool stop_requested() override { return stop && stop(); }

    // The final state (or, after a divergence, only the records before it:
    // the checkpoint stays the last finite state), then the status.
    void finish(const RunResult& result);

protected:
    // `series` = 0: 1-D record datasets (one layer, -log SNR_w only);
    // L > 0: (L, records) datasets of -log SNR_w and |mean| / std.
    RunWriter(hid_t group, const SimConfig& cfg, const std::string& config_yaml, hsize_t series, bool resumed);
    virtual void write_initial(const RunState& initial) = 0;
    virtual void write_checkpoint_arrays(hid_t checkpoint, const RunState& state) = 0;
    virtual void write_final(const RunResult& result) = 0;      // not after a divergence
    virtual void write_summary(const RunResult& /*result*/) {}  // always, before the status
    void flush_records();
    void flush_file() const;
    void make_durable(bool force) const;
    void write_checkpoint(const RunState& s, bool force = false);
    hid_t group_;

private:
    hsize_t series_;
    bool finishing_ = false;
    h5::Appendable step_, time_, nls_, mas_;
    std::vector<int64_t> steps_buf_;
    std::vector<double> time_buf_, nls_buf_, mas_buf_;
};

}  // namespace dynshare
