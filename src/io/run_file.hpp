// SPDX-License-Identifier: BSD-3-Clause
// The HDF5 layout of a one-layer run (docs/guide/outputs.md), written into a
// group: the file's root for `dynshare simulate`, /runs/<i> for a sweep.
// Records, status and checkpoints go through the one writer (run_writer.hpp).
#pragma once
#include <hdf5.h>

#include <string>

#include "dynshare/config.hpp"
#include "dynshare/run_observer.hpp"
#include "io/run_writer.hpp"

namespace dynshare {

class RunGroupWriter : public RunWriter {
public:
    // `group` must stay open while the writer is used; `resumed` opens the
    // existing datasets instead of creating them.
    RunGroupWriter(hid_t group, const SimConfig& cfg, const std::string& config_yaml, bool resumed);

private:
    void write_initial(const RunState& initial) override;                   // weights/initial
    void write_checkpoint_arrays(hid_t checkpoint, const RunState& s) override;  // w, w0, v, r, r_inh
    void write_final(const RunResult& result) override;                     // checkpoint, weights/final
    void write_summary(const RunResult& result) override;                   // snr/theory_min
};

// The group of the last complete checkpoint in a run group: /checkpoint, or a
// complete /checkpoint_next left by a process killed while replacing it.
// Throws UserError when there is none.
h5::Handle open_checkpoint(hid_t group);
// The checkpoint stored in a run group (throws UserError if there is none).
RunState read_checkpoint(hid_t group);
// Drops records after `step` (those written after the checkpoint being resumed).
void truncate_records(hid_t group, int64_t step);

}  // namespace dynshare
