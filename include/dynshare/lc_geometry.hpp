// SPDX-License-Identifier: BSD-3-Clause
// Geometry of one 2D locally connected (LC) layer and its weight layout,
// shared by the sleep-phase engine, the HDF5 weight files and the trainer.
//
// Weight layout (row-major, one contiguous block per layer):
//   [c_out][h_out][w_out][c_in][k][k]
// i.e. output neuron n = (c, y, x) owns the fan_in = c_in*k*k weights that a
// Conv2d kernel of channel c would hold, in Conv2d's (c_in, ky, kx) order.
#pragma once
#include <cstdint>
#include <vector>

namespace dynshare {

struct LcGeometry {
    int c_in = 1, h_in = 1, w_in = 1;  // input channels and size
    int c_out = 1;                     // output channels
    int k = 3, stride = 1, padding = 0;

    int h_out() const { return (h_in + 2 * padding - k) / stride + 1; }
    int w_out() const { return (w_in + 2 * padding - k) / stride + 1; }
    int fan_in() const { return c_in * k * k; }
    int64_t neurons() const { return int64_t(c_out) * h_out() * w_out(); }
    int64_t weight_count() const { return neurons() * fan_in(); }
    // Neuron index of output (c, y, x).
    int64_t neuron(int c, int y, int x) const { return (int64_t(c) * h_out() + y) * w_out() + x; }
    // True when the receptive field of output (y, x) reaches into the padding.
    bool is_border(int y, int x) const {
        const int y0 = y * stride - padding, x0 = x * stride - padding;
        return y0 < 0 || x0 < 0 || y0 + k > h_in || x0 + k > w_in;
    }
};

}  // namespace dynshare
