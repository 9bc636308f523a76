// The sleep phase over stacked 2D LC layers (Section 4.1, Fig. 3B): module
// structure, pattern generation and propagation, and the run loop. Each
// layer is a LayerBlock integrated by its own PresentationIntegrator; the
// layers of one presentation run in parallel (OpenMP), results do not
// depend on the number of threads.
//
// Modules. Layer l has a module period p_l (grid: its kernel k; period:<P>:
// P; full: 1). Output neuron (c, y, x) belongs to module (c, y mod p, x mod p)
// (full: one module per channel). Empty modules (p larger than the output)
// are dropped. Border neurons are module members (they have lateral
// connections) but are left out of the SNR metrics.
//
// Patterns and periods. Each presentation the first layer's input is a random
// patch of shape (c_in, P0, P0) tiled over the H x W input (as from LGN). The
// pattern passed on by layer l is phi(module mean of z), z_i = w_i . x_i at
// the presentation start, laid out as (c_out, h_out, w_out): it repeats with
// period p_l by construction, so layer l+1's input period is p_l. The members
// of a module of layer l are p_l positions apart, i.e. p_l * s_l input pixels
// apart, so (away from the padding) they all see the same input exactly when
//     in_period(l) divides p_l * s_l.
// That is the condition checked for every layer (UserError naming
// stack.layers[l].stride otherwise). P0 is the smallest divisor of p_0 * s_0
// that is >= min(k_0, p_0 * s_0): the first layer's modules see identical
// inputs and, where possible, a receptive field covers P0 >= k distinct patch
// values, i.e. spans all c_in k^2 input directions (grid with stride 1: P0 = k).
// Examples: grid 3x3 stride 2 after grid 3x3: 3 | 3 * 2, accepted (the
// ResNet-20 downsampling layers); full with stride 1: P0 = 1 (constant
// patterns per channel, the idealised convolution); full with stride k: P0 = k,
// each channel is exactly the single-layer model of Fig. 4.
//
// Border inputs. With stack.border = periodic a receptive field that reaches
// into the padding reads the pattern's periodic continuation there (input
// position i outside [0, n) reads i shifted by a multiple of the input
// period into range), so all members of a module see identical inputs; it
// needs every layer's input to be at least one period high and wide.
//
// Random draws (Philox, key (seed, stream)): the first layer's patch of
// presentation p uses Stream::input (p, p >> 32) like the single-layer x;
// the noise of neuron n (LC index) of layer l uses Stream::input_noise
// (p, l << 24 | n); initial weights use Stream::initial_weights (n, l).
// Layer 0 therefore draws exactly what a single layer of the same seed draws.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dynshare/config.hpp"
#include "dynshare/lc_geometry.hpp"
#include "dynshare/philox.hpp"
#include "dynshare/run_observer.hpp"

namespace dynshare {

struct StackLayerPlan {
    LcGeometry g;
    int period = 1;                       // module period p (1: full, one module per channel)
    int in_period = 1;                    // period of the layer's input pattern
    Nonlinearity phi = Nonlinearity::relu;
    std::vector<int64_t> order;           // sorted position -> LC neuron index (modules contiguous)
    std::vector<int64_t> module_offsets;  // modules of the sorted order, size modules + 1
    std::vector<int64_t> module_of_cell;  // (c * p + y mod p) * p + x mod p -> module (-1: empty)
    // SNR rows: sorted positions of the non-border neurons, module by module,
    // only modules with >= 2 of them; snr_offsets delimits the modules.
    std::vector<int64_t> snr_rows, snr_offsets;
    int64_t modules() const { return static_cast<int64_t>(module_offsets.size()) - 1; }
};

struct StackPlan {
    std::vector<StackLayerPlan> layers;
    int pattern_period = 1;  // P0
    bool normalize = true;
    double drive = 0.0;  // stack.drive
    bool periodic_border = false;  // stack.border = periodic
};

// Module period of a layer under the stack's connectivity.
int module_period(const StackParams& stack, const LcGeometry& g);
// Geometry of every layer from cfg.stack (throws UserError on bad sizes).
std::vector<LcGeometry> make_stack_geometry(const StackParams& stack);
// Modules, orders and periods; throws UserError when the geometry does not
// chain or a layer's modules cannot see identical inputs (see above).
StackPlan make_stack_plan(const StackParams& stack, const std::vector<LcGeometry>& geometry);

// SNR metrics of one layer's weights in LC layout (module period `period`).
struct LcSnr {
    double neg_log_snr = 0.0;        // -log of the mean over modules of SNR_w (Eq. 6)
    double mean_abs_over_std = 0.0;  // mean over modules and inputs of |mean w| / std w
};
LcSnr lc_snr(const LcGeometry& g, const double* w, int period);

// Initial weights of layer l (LC layout): init_mean + std N(0,1), std =
// init_std or He sqrt(2 / fan_in) when init_std < 0.
std::vector<double> stack_initial_weights(const StackLayer& layer, const LcGeometry& g, int l, RngKey key);

// Everything needed to continue a stack run bit-identically, in LC layout
// (w, w0, v: neurons x fan_in; r: neurons; r_inh: one per module, module order).
struct StackLayerState {
    std::vector<double> w, w0, v, r, r_inh;
};
struct StackState {
    int64_t presentation = 0;
    int64_t step = 0;
    std::vector<StackLayerState> layers;
};

class StackObserver {
public:
    virtual ~StackObserver() = default;
    virtual void on_begin(const StackState& /*initial*/) {}
    // One record: per layer -log SNR_w and mean |mean w| / std w.
    virtual void on_record(int64_t step, double time, const std::vector<double>& neg_log_snr,
                           const std::vector<double>& mean_abs_over_std) = 0;
    virtual void on_checkpoint(const StackState& /*state*/) {}
    virtual void on_progress(int64_t /*done*/, int64_t /*total*/) {}
    virtual bool stop_requested() { return false; }
    // The inputs of layer l in presentation p, rows in the plan's sorted
    // order (n x fan_in). Only called when wants_inputs() (tests).
    virtual bool wants_inputs() const { return false; }
    virtual void on_inputs(int64_t /*p*/, int /*l*/, const double* /*x*/) {}
};

struct StackRunResult {
    RunStatus status = RunStatus::complete;
    std::string message;               // why a run diverged
    StackState state;                  // at the last presentation boundary reached
    int64_t integrator_steps = 0;      // summed over layers
    std::vector<double> layer_seconds;    // per layer: integration (begin .. end) and records
    std::vector<double> pattern_seconds;  // per layer: building inputs and the propagated pattern
    double seconds = 0.0;
};

// Runs cfg.run.presentations presentations from `initial_weights` (LC layout,
// one vector per layer) or from `resume`. Random key: make_key(seed, stream).
StackRunResult run_stack_engine(const SimConfig& cfg, const StackPlan& plan, RngKey key,
                                const std::vector<std::vector<double>>& initial_weights, StackObserver& observer,
                                const StackState* resume = nullptr);

}  // namespace dynshare
