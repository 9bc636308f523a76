// SPDX-License-Identifier: BSD-3-Clause
// The plain loop: Eq. 8 (or Eq. 4) integrated with explicit Euler over all
// N x k^2 weights at every step, exactly as written in the paper. It is the
// independent truth that the reduced-coordinate integrators are tested
// against, and the C++ baseline of the benchmark. Not used by the CLI.
#pragma once
#include <vector>

#include "dynshare/config.hpp"

namespace dynshare {

struct ReferenceResult {
    std::vector<double> w, v, r, r_inh;   // final state
    std::vector<double> neg_log_snr;      // at steps record_every, 2 record_every, ... (no step 0)
};

ReferenceResult reference_euler_run(const SimConfig& cfg);

}  // namespace dynshare
