// `dynshare simulate` for a config with a `stack` section: the sleep phase
// over stacked LC layers, written to HDF5 (README "HDF5 layout, stacked runs").
#pragma once
#include <string>
#include <vector>

#include "dynshare/config.hpp"
#include "dynshare/lc_geometry.hpp"
#include "io/h5.hpp"

namespace dynshare::cli {

struct StackInputs {
    std::vector<LcGeometry> geometry;
    std::vector<std::vector<double>> weights;  // empty: draw the initial weights from the seed
};

// Validates the stack against the config (and the --weights file when given,
// checking every layer's shape) before any output exists. Throws UserError.
StackInputs prepare_stack_run(const SimConfig& cfg, const std::string& weights_path);

int run_stack(const SimConfig& cfg, const std::string& yaml, h5::Handle& file, const std::string& out,
              const StackInputs& inputs, bool quiet);
int resume_stack_run(const SimConfig& cfg, const std::string& yaml, h5::Handle& file, const std::string& out,
                     bool quiet);

}  // namespace dynshare::cli
