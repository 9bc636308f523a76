// DESIGN (not used yet): device-resident weights of one locally connected
// (LC) layer, handed to the GPU sleep phase without a copy (issue 4, item 3).
// A plain view: no ownership, no CUDA or LibTorch types, so the trainer can
// fill it from a torch::Tensor (data_ptr(), sizes(), strides()) and the CUDA
// kernels can read it; the caller keeps the memory alive and on one device.
//
// Weight w[c][y][x][j] of output channel c at output position (y, x) and
// input j (j over in_channels x kernel x kernel, the LC fan-in), addressed
// as  data + c*stride[0] + y*stride[1] + x*stride[2] + j*stride[3]  (in
// elements). A module of Eq. 8 is the set of neurons that share one lateral
// inhibitory unit (grid connectivity: the same (c, y, x) neighbourhood, see
// include/dynshare/lc_geometry.hpp); the sleep-phase kernels will take the
// module offsets as a separate device array, built once per geometry.
//
// Plan for the stacked sleep phase on the GPU:
//  1. one kernel per layer and presentation batch: x of layer l+1 is the
//     rates of layer l (normalised to unit RMS when stack.normalize), kept on
//     the device; the LC forward z = w . x is a batched GEMV per position
//     (memory-bound: each weight read once per presentation);
//  2. the reduced coordinates of models/anti_hebbian.hpp apply per neuron
//     unchanged (x is fixed within a presentation), so the O(1)-per-step
//     rate/plasticity loop is the single-layer kernel with modules of
//     neurons instead of one module per block, and weights are touched only
//     at presentation start (dots) and end (materialize) — 5 weight-sized
//     streams per presentation, the bandwidth bound the benchmark reports;
//  3. one thread block per (module group), modules contiguous as in
//     LayerBlock::module_offsets; T = float or double as for single layers;
//  4. the CPU StackEngine stays the reference: tests compare records and
//     final weights as tests/test_cuda_backend.cpp does for single layers.
#pragma once
#include <cstdint>

namespace dynshare {
namespace cuda {

enum class DeviceDType : int { f32 = 0, f64 = 1 };

struct DeviceWeights {
    void* data = nullptr;          // device pointer (cudaMalloc'ed or a torch tensor's storage)
    DeviceDType dtype = DeviceDType::f32;
    int device = 0;                // CUDA device ordinal the memory lives on
    int64_t shape[4] = {0, 0, 0, 0};    // out_channels, out_height, out_width, fan_in
    int64_t stride[4] = {0, 0, 0, 0};   // in elements; a torch tensor's strides()
    int64_t numel() const { return shape[0] * shape[1] * shape[2] * shape[3]; }
    bool contiguous() const {
        return stride[3] == 1 && stride[2] == shape[3] && stride[1] == shape[2] * shape[3] &&
               stride[0] == shape[1] * shape[2] * shape[3];
    }
};

}  // namespace cuda
}  // namespace dynshare
