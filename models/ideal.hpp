// Eq. 4, the idealised rule: every neuron of a module sees x_i, and
//   dw_i = -eta [ (z_i - mean_j z_j) x_i + gamma (w_i - w_i^init) ]   (+ momentum).
// The module mean stands for the lateral connections of Eq. 7.
#pragma once
#include "dynshare/hostdevice.hpp"

namespace dynshare {

// Gradient of one weight: (z_i - zbar) x_ij + gamma (w_ij - w0_ij).
DS_HD double ideal_grad(double z, double zbar, double x, double w, double w0, double gamma) {
    return (z - zbar) * x + gamma * (w - w0);
}

}  // namespace dynshare
