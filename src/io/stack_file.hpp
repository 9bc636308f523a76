// SPDX-License-Identifier: BSD-3-Clause
// HDF5 layout of a stacked sleep-phase run (`dynshare simulate` with a
// `stack` section), written at the file's root:
//   attrs: config, version, seed, complete, status, model, integrator, gamma,
//          alpha, steps_per_presentation, layers, connectivity, schedule,
//          pattern_period, presentations_done, seconds
//   /snr/step (records), /snr/time (records)
//   /snr/neg_log_snr (layers, records)       -log of the module-averaged SNR_w
//   /snr/mean_abs_over_std (layers, records) mean over modules and inputs of |mean w| / std w
//          (per module, population std: not the authors' form, which is
//          /layers/<l> attrs snr_authors_initial / snr_authors_final)
//   /layers/<l>/ attrs c_in, h_in, w_in, c_out, k, stride, padding, h_out,
//          w_out, period, modules, nonlinearity
//   /layers/<l>/weights_initial, /layers/<l>/weights_final
//          shape (c_out, h_out, w_out, c_in*k*k): the layout of lc_geometry.hpp
//   /timing/layer_seconds, /timing/pattern_seconds (layers)
//   /checkpoint attrs presentation, step; /checkpoint/layers/<l>/{w, v, r, r_inh}
//          (w, v: (neurons, fan_in) in LC order; r: neurons; r_inh: modules);
//          w0 is weights_initial. The checkpoint at presentation 0 has no
//          arrays (the initial state follows from weights_initial); every run
//          ends with a checkpoint of its last state (a complete one too).
// Records, status and checkpoints go through the one writer (run_writer.hpp).
#pragma once
#include <hdf5.h>

#include <functional>
#include <string>
#include <vector>

#include "dynshare/plan.hpp"
#include "io/run_writer.hpp"
#include "dynshare/config.hpp"
#include "dynshare/lc_geometry.hpp"
#include "io/h5.hpp"

namespace dynshare {

// Weights for `--weights FILE`: per layer /layers/<l>/weights, or
// /layers/<l>/weights_final of an earlier run, of shape (c_out, h_out, w_out,
// c_in*k*k) (or the 6D (c_out, h_out, w_out, c_in, k, k)). Throws UserError
// naming the file, the dataset and the expected shape.
std::vector<std::vector<double>> read_stack_weights(const std::string& path, const std::vector<LcGeometry>& geometry);

// One layer's weights as (c_out, h_out, w_out, fan_in) at `loc`/`path`.
void write_lc_weights(hid_t loc, const std::string& path, const LcGeometry& g, const std::vector<double>& w);

class StackFileWriter : public RunWriter {
public:
    // `resumed` opens the existing datasets instead of creating them.
    StackFileWriter(hid_t file, const SimConfig& cfg, const std::string& config_yaml, const RunPlan& plan,
                    bool resumed);

private:
    void write_initial(const RunState& initial) override;
    void write_checkpoint_arrays(hid_t checkpoint, const RunState& s) override;
    void write_final(const RunResult& result) override;
    void write_summary(const RunResult& result) override;
    const RunPlan& plan_;
};

// The stack checkpoint of a file (throws UserError when missing or when its
// shapes do not match the plan). Records after it: truncate_records (run_file.hpp).
RunState read_stack_checkpoint(hid_t file, const RunPlan& plan, double bias);

}  // namespace dynshare
