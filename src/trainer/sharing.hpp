// Weight-sharing regularisers applied to a network's LC layers every
// sharing.every iterations, and the per-layer weight SNR (Eq. 6).
// Modules are "grid" modules of period k: output neurons (c, y, x) and
// (c, y', x') are in one module when y = y' and x = x' modulo k.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "trainer/networks.hpp"
#include "trainer/train_config.hpp"

namespace dynshare::trainer {

// Module period used for a layer (its kernel size).
inline int module_period(const LcGeometry& g) { return g.k; }

// -log SNR_w (Eq. 6) of one layer: per channel and module over its
// non-border neurons, SNR = mean_j(mu_j^2 / var_j); then -log of the mean
// over channels and modules. It is the core's lc_snr (include/dynshare/snr.hpp),
// the simulator's own metric: exactly shared weights give -inf.
double neg_log_snr(const torch::Tensor& weight, const LcGeometry& g, int period);

// Sets every module's weights (and biases) to the module mean.
void share_instant(LocallyConnected2dImpl& layer, int period);

// Eq. 4 with module means: `presentations` steps, each with `patterns`
// random input tiles of period k*stride (so all neurons of a module see the
// same unit-norm patch); dw_i = -lr (sum_m r_i x_m + gamma (w_i - w_i^init)).
void share_hebbian(LocallyConnected2dImpl& layer, int period, int64_t presentations, int patterns, double lr,
                   double gamma, uint64_t seed);

struct SleepRecord {
    std::vector<double> snr_before, snr_after;  // -log SNR_w per LC layer
    double seconds = 0.0;
};

// Indices (into net->lc_layers()) of the longest run of main-path LC layers
// whose geometries chain (layer l's output is layer l+1's input): the layers
// the stacked sleep-phase engine can drive. Others are shared instantly.
std::vector<size_t> sleep_chain(const Net& net);

// One sharing phase of the configured mode on every LC layer of `net`.
// `phase` numbers the phases of the run (selects fresh random patterns).
SleepRecord apply_sharing(const RunConfig& cfg, Net& net, uint64_t phase);

// Per-layer -log SNR_w of every LC layer.
std::vector<double> network_snr(const Net& net);

// The engine's sleep phase (sharing_simulated.cpp) on the layers `chain`.
void run_simulated_sleep(const RunConfig& cfg, Net& net, const std::vector<size_t>& chain, uint64_t phase);

}  // namespace dynshare::trainer
