// SPDX-License-Identifier: BSD-3-Clause
// Weight-sharing regularisers applied to a network's LC layers every
// sharing.every iterations, and the per-layer weight SNR (Eq. 6).
// Modules are "grid" modules of period k: output neurons (c, y, x) and
// (c, y', x') are in one module when y = y' and x = x' modulo k.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "trainer/networks.hpp"
#include "trainer/train_config.hpp"

namespace dynshare {
class Backend;
}

namespace dynshare::trainer {

// Module period used for a layer: its kernel size for grid modules, 1 for
// full modules (all positions of a channel are one module).
inline int module_period(const LcGeometry& g, SharingModules m = SharingModules::grid) {
    return m == SharingModules::full ? 1 : g.k;
}

// The authors' SNR (compute_non_padded_weight_average_snr in their
// locally_connected_utils.py): for every (output channel, input) weight, the
// mean and the unbiased std over all non-border positions of the channel;
// then the mean of |mean| / std over channels and inputs (a zero std is
// replaced by 1e-20, as theirs). Not a logarithm: larger = more shared. It is
// the core's lc_snr_authors (include/dynshare/snr.hpp) on a host fp64 copy.
double authors_snr(const torch::Tensor& weight, const LcGeometry& g);
std::vector<double> network_snr_authors(const Net& net);

// -log SNR_w (Eq. 6) of one layer: per channel and module over its
// non-border neurons, SNR = mean_j(mu_j^2 / var_j); then -log of the mean
// over channels and modules. It is the core's lc_snr (include/dynshare/snr.hpp),
// the simulator's own metric: exactly shared weights give -inf.
double neg_log_snr(const torch::Tensor& weight, const LcGeometry& g, int period);

// Sets every module's weights (and biases) to the module mean.
void share_instant(LocallyConnected2dImpl& layer, int period);
// Replaces the layer's weight (and bias) gradients by their module means
// (sharing.gradient: module_mean), before the optimizer step.
void share_gradients(LocallyConnected2dImpl& layer, int period);

// Eq. 4 with module means: `presentations` steps, each with `patterns`
// random input tiles of period k*stride (so all neurons of a module see the
// same unit-norm patch); dw_i = -lr (sum_m r_i x_m + gamma (w_i - w_i^init)).
void share_hebbian(LocallyConnected2dImpl& layer, int period, int64_t presentations, int patterns, double lr,
                   double gamma, uint64_t seed);

// The authors' Hebbian sharing (train_one_epoch and LocallyConnected2d.
// share_weights / apply_hebbian_term in their utils.py and
// locally_connected_utils.py): 100 iterations; each draws 128 N(0,1)
// c_in x k x k patterns, tiles each over the layer's input (period k, cropped),
// computes the outputs z, replaces z by z - (module mean of z) for non-border
// neurons and by 0 for border neurons (no Hebbian term), and steps
// w -= lr (mean over the 128 patterns of z x + gamma (w - w_saved)),
// lr = 0.1, gamma = 1e-5, w_saved = the weights before the phase.
// Modules: grid of period k over the non-border neurons (all positions for k = 1).
struct AuthorsHebbian {
    static constexpr int iterations = 100, patterns = 128;
    static constexpr double lr = 0.1, gamma = 1e-5;
};
void share_hebbian_authors(LocallyConnected2dImpl& layer, int period, uint64_t seed);

// Throws UserError naming the first LC layer whose modules cannot be shared
// by the configured mode: with sharing.modules full, the hebbian modes and the
// sleep phase need every neuron of a channel to see the same input patch,
// which a tiled input gives only when padding = 0 and kernel <= stride.
void check_sharable(const RunConfig& cfg, const Net& net);

struct SleepRecord {
    std::vector<double> snr_before, snr_after;  // -log SNR_w per LC layer
    double seconds = 0.0;
};

// Indices (into net->lc_layers()) of the longest run of main-path LC layers
// whose geometries chain (layer l's output is layer l+1's input): the layers
// the stacked sleep-phase engine can drive. Others are shared instantly.
std::vector<size_t> sleep_chain(const Net& net);
// The same rule on the geometries of the main-path LC layers, in forward order.
std::vector<size_t> longest_chain(const std::vector<LcGeometry>& main_path_layers);

// One sharing phase of the configured mode on every LC layer of `net`.
// `phase` numbers the phases of the run (selects fresh random patterns).
SleepRecord apply_sharing(const RunConfig& cfg, Net& net, uint64_t phase);

// Per-layer -log SNR_w (Eq. 6) of every LC layer, modules as configured.
std::vector<double> network_snr(const Net& net, SharingModules modules = SharingModules::grid);

// The engine's sleep phase (sharing_simulated.cpp) on the layers `chain`,
// on sleep_backend of the weights' device.
void run_simulated_sleep(const RunConfig& cfg, Net& net, const std::vector<size_t>& chain, uint64_t phase);
// The same on a given backend (tests: the CUDA kernels on the emulator). A
// backend that runs_resident() gets the weight tensors' storage as it is.
void run_simulated_sleep(const RunConfig& cfg, Net& net, const std::vector<size_t>& chain, uint64_t phase,
                         Backend& backend);
// Where the sleep phase of weights on `weights_device` runs: the CPU engine
// for host weights; for a CUDA device the CUDA backend (resident weights), or,
// where it cannot run, the CPU engine through the host, with the reason in
// *notice. run_simulated_sleep also falls back to the CPU engine for a phase
// the device refuses (an integrator it lacks, too little free memory),
// saying so once on stderr.
Backend& sleep_backend(const torch::Device& weights_device, std::string* notice = nullptr);
// The backend a phase of `cfg` on the layers `geometry` runs on: `preferred`,
// unless it refuses the phase (Backend::check: an integrator it lacks, too
// little free device memory even after torch's cache is emptied); then the
// CPU engine, with the reason in *notice.
Backend& phase_backend(const RunConfig& cfg, const std::vector<LcGeometry>& geometry, Backend& preferred,
                       std::string* notice);
// Bytes of host memory that sleep phase takes on the layers `chain`: the
// engine's estimate for the stacked plan without state copies
// (run_memory_bytes(..., false): a sleep phase's observer wants none), which
// counts the weights handed to it.
long long sleep_memory_bytes(const RunConfig& cfg, const std::vector<LcGeometry>& chain);

// The presentations per simulated sleep phase each layer of `chain` asks
// for: with sharing.presentations_per_fan_in F > 0, ceil(F * c_in * k^2)
// (one presentation removes a module's spread along about one of its fan-in
// input directions, so a layer of fan-in d needs ~d presentations per e-fold
// of its spread); with F = 0, sharing.presentations for every layer.
std::vector<int64_t> layer_presentations(const SharingConfig& s, const std::vector<LcGeometry>& chain);
// The presentations of one phase on `chain`: the engine's stack integrates
// all layers at once (a deep layer's inputs are the layers' below it), so
// the phase runs the largest of layer_presentations, and every layer gets at
// least its share. A rule above kMaxSleepPresentations is a UserError naming
// the key, the layer and the largest F allowed.
int64_t phase_presentations(const SharingConfig& s, const std::vector<LcGeometry>& chain);

}  // namespace dynshare::trainer
