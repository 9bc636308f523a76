// SPDX-License-Identifier: BSD-3-Clause
// The plain interface between the CUDA backend's host side (C++ compiler:
// src/cuda/cuda_backend.cpp and the runners, layer_runner.cpp and
// stack_runner.cpp) and its kernels (src/cuda/*.cu).
// Plain structs of sizes, parameters and device pointers only: no Eigen,
// HDF5, yaml-cpp or Boost on either side of this header.
//
// The kernel sources are built twice (src/cuda/cuda_compat.hpp): by nvcc for
// a GPU (namespace cuda::device, only when nvcc was found), and as host C++
// with the emulator in src/cuda/emulation/ (namespace cuda::emulated, always).
// Each build hands the host side one DeviceApi: the host code (the runners)
// is the same for both, only the memory calls and the launches differ.
//
// Device layout of one batch of R runs with n neurons and K = k^2 inputs:
//   w, w0, v   R x K x n  (run-major, then input j, then neuron i: neuron
//              index fastest, so the threads of a block, one per neuron,
//              read consecutive addresses)
//   r          R x n, r_inh R (one module per single layer)
// The host converts to and from the engine's n x K row-major doubles.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dynshare {
namespace cuda {

// How the layer is integrated (the CPU integrator it mirrors).
enum KernelMethod : int {
    method_ideal = 0,        // Eq. 4: one iteration per presentation (PresentationIntegrator::ideal_step)
    method_euler = 1,        // ei_rate, Euler + discrete momentum (euler_discrete_step)
    method_rk4 = 2,          // ei_rate, RK4 rates + discrete momentum (rk4_discrete_step)
    method_exponential = 3,  // ei_rate, exponential sub-steps, continuous plasticity (exponential_substep)
};

// What all runs of a batch share: the loop structure.
struct BatchShape {
    int method = method_euler;
    int n = 0;                 // neurons (one module), <= max_neurons
    int k = 0;                 // inputs per neuron (layer.kernel^2)
    int64_t steps = 1;         // steps per presentation (1 for ideal)
    int64_t presentations = 0; // run.presentations
    int64_t record_every = 1;  // run.record_every
    int noisy = 0;             // input.noise_std > 0: one input row per neuron
};

constexpr int max_neurons = 1024;  // one thread per neuron, one block per run

// Per-run parameters (fp64: O(1) per step per run; the per-neuron state is in T).
struct RunScalars {
    uint32_t key0 = 0, key1 = 0;   // RngKey of (run.seed, run.stream)
    double dt = 1e-3, tau = 0.03, alpha = 10.0, bias = 1.0;
    double mu = 0.95, gamma = 0.1;
    double lr = 0.0, t0 = 1.0;     // LrSchedule
    int sched_kind = 0;
    int plastic = 1;
    int64_t delay = 0;
    double macro_step = 0.0;       // exponential: largest sub-step (s)
    double kappa_scale = 0.0;      // continuous form: kappa = eta(step) * kappa_scale
    double noise_std = 0.0;
};

// Device pointers of a batch (T = float or double).
template <class T>
struct BatchState {
    T *w = nullptr, *w0 = nullptr, *v = nullptr;   // R x K x n
    T *r = nullptr, *r_inh = nullptr;              // R x n, R
    T *xbuf = nullptr;                             // R x K x n, only when shape.noisy
    const RunScalars* params = nullptr;            // R
    int* active = nullptr;         // R: 1 = integrate this run in the next chunk
    int64_t* next = nullptr;       // R: next presentation to integrate
    int64_t* step = nullptr;       // R: global steps done
    int64_t* substeps = nullptr;   // R: integrator steps taken (cost metric)
    int* diverged = nullptr;       // R: 1 once the state became non-finite, 2 once a record's sums overflowed
    int64_t* diverged_step = nullptr;  // R: the step where a record's sums overflowed (diverged == 2)
    // Records of the last chunk: run b's records at [b * rec_cap, b * rec_cap + rec_count[b]).
    int64_t* rec_step = nullptr;
    double* rec_value = nullptr;   // -log SNR_w
    int* rec_count = nullptr;
    int rec_cap = 0;
};

// ---- stacked plans (src/cuda/stack_kernels.cu, host side src/cuda/stack_runner.cpp) ----
// One layer of a stacked plan on the device. Neurons are in the plan's block
// order (module by module, LayerPlan::order); per-neuron-per-input arrays are
// K x n (input j, then block position s: neuron index fastest, as above).
struct StackGeometry {
    int n = 0, K = 0, modules = 0, snr_modules = 0;
    int c_in = 0, h_in = 0, w_in = 0, c_out = 0, k = 0, stride = 1, padding = 0, h_out = 0, w_out = 0;
    int period = 1;        // module period p of this layer (module_of_cell)
    int in_period = 1;     // period of the layer's input pattern (periodic border: wrap by it)
    int max_module = 1;    // neurons of the largest module (threads of a per-module block)
    int relu = 1;          // phi = relu (else identity)
    int layer = 0;         // l (the noise and drive streams are keyed by it)
    int inputs_blocks = 1; // blocks of the inputs kernel (one xx maximum each)
};

template <class T>
struct StackLayerDev {
    StackGeometry g;
    const int64_t *order = nullptr, *offsets = nullptr;          // n, modules + 1
    const int64_t *snr_rows = nullptr, *snr_offsets = nullptr;   // block positions, snr_modules + 1
    const int64_t* module_of_cell = nullptr;                     // c_out p p
    T *w = nullptr, *w0 = nullptr, *v = nullptr, *x = nullptr;   // K x n (x: the presentation's inputs)
    T *r = nullptr, *c = nullptr, *e = nullptr;                  // n: rate, reduced coordinates
    T *sw = nullptr, *sv = nullptr, *sd = nullptr, *xx = nullptr;  // n: start-of-presentation dots
    T* z = nullptr;                                              // n: w.x at the start (propagated)
    T* r_inh = nullptr;                                          // modules
    T* means = nullptr;                                          // modules (propagation scratch)
    T* pin = nullptr;                                            // c_in h_in w_in: this layer's input pattern
    T* pout = nullptr;                                           // the next layer's pattern (nullptr: last)
    double* patch = nullptr;                                     // layer 0: c_in P0 P0 draws
    double* shared = nullptr;     // 2 x 4: ReducedShared (A, B, F, G), double-buffered across launches
    double* xx_part = nullptr;    // inputs_blocks: max_i xx_i per block
    double* snr_part = nullptr;   // snr_modules x 3: sum_j snr term, sum_j |mean|/std, finite (1/0)
    double* snr_terms = nullptr;  // snr_modules x K x 4 scratch
    double* fin_part = nullptr;   // modules: sum of r + c + e and r_inh (block 0: + A + B + F + G)
    int64_t* substeps = nullptr;  // 1: integrator steps taken
};

struct StackScalars {
    RunScalars run;              // per-layer step parameters (plasticity.lr_scaling, frozen layers)
    double drive = 0.0;          // stack.drive
    int normalize = 1;           // stack.normalize
    int periodic = 0;            // stack.border = periodic
    int pattern_period = 1;      // P0
    int method = method_euler;   // method_euler or method_exponential
};

enum StackOp : int {
    stack_op_patch = 0,      // layer 0's input: the presentation's patch, tiled (one block)
    stack_op_inputs = 1,     // receptive fields (+ noise) into x, and the start-of-presentation dots
    stack_op_propagate = 2,  // phi(module mean of z) (+ drive, unit RMS) into the next layer's pattern
    stack_op_segment = 3,    // integrate steps [j_from, j_to) of the presentation, one block per module
    stack_op_snr = 4,        // SNR_w sums per SNR module (current or materialised weights)
    stack_op_end = 5,        // state_finite partials, then materialise w (and v)
    stack_op_load = 6,       // w = w0 = ext (weights already on the device, output order), v = 0
    stack_op_store = 7,      // ext = w (the final weights back where they came from)
};

// One operation on `runs` runs of the same plan at once (a batch: a sweep of
// stacked configs that differ only in per-run scalars). Run b's arrays and
// scalars are layers[b] and scalars[b], both arrays in device memory; the
// kernels take run b as blockIdx.y. `g` (the same for every run) sizes the grid.
template <class T>
struct StackLaunch {
    int op = stack_op_patch;
    const StackLayerDev<T>* layers = nullptr;  // device: runs entries
    const StackScalars* scalars = nullptr;     // device: runs entries
    StackGeometry g;
    int runs = 1;
    int method = method_euler;  // stack_op_segment: the kernel (the same for every run of a batch)
    int64_t p = 0;              // presentation
    int64_t s0 = 0;             // global step of the presentation's start (the layer's plasticity clock)
    int64_t j_from = 0, j_to = 0;
    int par = 0;                // which half of `shared` holds the current coordinates
    int materialized = 0;       // stack_op_snr: 1 = read w as it is
    // stack_op_load / stack_op_store (one run): a layer's weights held on the
    // device by someone else (the trainer's LC weight tensor), float, output
    // order: neuron i's inputs at ext[i * K + j] (include/dynshare/lc_geometry.hpp).
    float* ext = nullptr;
};

// What the host side needs from a device: memory, copies and the kernels'
// entry points. Every call returns nullptr on success, else the error text.
struct DeviceApi {
    const char* name;  // "cuda" (a GPU) or "cuda-emulated"
    // nullptr when a device can be used, else why not (one line).
    const char* (*usable)();
    const char* (*alloc)(void** p, size_t bytes);
    void (*release)(void* p);
    const char* (*to_device)(void* dst, const void* src, size_t bytes);
    const char* (*to_host)(void* dst, const void* src, size_t bytes);
    const char* (*mem_info)(size_t* free_bytes, size_t* total_bytes);

    // Integrates presentations [p_begin, p_end) of every active run (each from
    // max(p_begin, next[b])), writing the records that fall in them (the
    // launch is synchronous).
    const char* (*run_chunk_f32)(const BatchShape& shape, const BatchState<float>& state, int runs, int64_t p_begin,
                                 int64_t p_end);
    const char* (*run_chunk_f64)(const BatchShape& shape, const BatchState<double>& state, int runs,
                                 int64_t p_begin, int64_t p_end);
    // Input covariance C_b = (1/P_b) sum_{p < P_b} x_p x_p^T of each run (shared
    // x, fp64, the same Philox draws), for the Eq. 5 theory line. cov: R x K x K.
    const char* (*input_covariance)(const RunScalars* params, const int64_t* presentations, int runs, int k,
                                    double* cov);
    // Ceiling measurements for the benchmark (bench/gpu): device-to-device copy
    // bandwidth (bytes/s, read + write counted) and fp32 FMA rate (FLOP/s, 2 per FMA).
    const char* (*measure_copy_bandwidth)(double seconds_target, double* bytes_per_s);
    const char* (*measure_fp32_rate)(double seconds_target, double* flop_per_s);
    // One step of a stacked plan's presentation (StackOp); synchronous.
    const char* (*stack_f32)(const StackLaunch<float>& launch);
    const char* (*stack_f64)(const StackLaunch<double>& launch);
};

namespace device {
const DeviceApi& api();  // the GPU: built only with nvcc (DYNSHARE_HAVE_CUDA)
}
namespace emulated {
const DeviceApi& api();  // the CPU emulator: library dynshare_cuda_emulated, always built
}

#if defined(DYNSHARE_KERNEL_NS)
// The entry points behind DeviceApi, for the kernel sources only (defined in
// the namespace of their build, src/cuda/cuda_compat.hpp).
namespace DYNSHARE_KERNEL_NS {
template <class T>
const char* run_chunk(const BatchShape& shape, const BatchState<T>& state, int runs, int64_t p_begin,
                      int64_t p_end);
const char* input_covariance(const RunScalars* params, const int64_t* presentations, int runs, int k,
                             double* cov);
const char* measure_copy_bandwidth(double seconds_target, double* bytes_per_s);
const char* measure_fp32_rate(double seconds_target, double* flop_per_s);
template <class T>
const char* stack_launch(const StackLaunch<T>& launch);
}  // namespace DYNSHARE_KERNEL_NS
#endif

}  // namespace cuda
}  // namespace dynshare
