// SPDX-License-Identifier: BSD-3-Clause
// Typed, validated parameters of one simulation. YAML becomes these structs
// once, at the edge (src/io/config_yaml.cpp); the engine never sees YAML.
// Field names mirror the YAML key paths (section.key), documented in README.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dynshare {

enum class ModelKind { ideal, ei_rate };
enum class Integrator { euler, rk4, dopri5, exponential };
enum class ScheduleKind { constant, inv, inv_sqrt };
// discrete: momentum SGD applied once per dt step (the paper's simulation).
// continuous: dw/dt = -g / tau_w(t), the continuum limit of the discrete rule.
// auto: discrete for euler/rk4, continuous for dopri5/exponential.
enum class PlasticityForm { automatic, discrete, continuous };
// none: every neuron uses plasticity.lr. fan_in: a neuron with F inputs uses
// lr / F, so lr is the per-step gain lr |x|^2 / F, the same in every layer
// whatever its width. Stacked layers need it: with unit-RMS inputs the
// per-presentation gain grows like F and a wide layer's anti-Hebbian loop
// overshoots (c_in k^2 = 576 in ResNet-20's last stage) at a learning rate
// that barely moves a 3x3 single-channel layer.
enum class LrScaling { none, fan_in };
enum class Nonlinearity { relu, identity };
enum class Connectivity { grid, full, period };
enum class LayerSchedule { simultaneous, layer_by_layer };
// What a border neuron (receptive field partly in the padding) sees there
// during the sleep phase: zero, as the network's zero padding; or periodic,
// the pattern's periodic continuation, so that every member of a module sees
// exactly the same input and border neurons are equalised too (as the
// paper's instant sharing does). With zero, a module's inhibitory mean mixes
// border neurons' smaller drives into every member's rate, which pulls the
// module mean down a little every presentation.
enum class BorderInput { zero, periodic };
// Arithmetic of the per-neuron state. auto: fp64 on the CPU, the CUDA
// backend's default (fp32) on the GPU. fp32 on the CPU runs the float
// instantiation of the same model functions that the GPU runs.
enum class Precision { automatic, fp64, fp32 };

struct LayerParams {           // layer.*
    int neurons = 100;         // N
    int kernel = 9;            // k (k^2 inputs per neuron)
    double init_mean = 1.0;    // initial weights: init_mean + init_std * N(0,1)
    double init_std = 1.0;
};

struct DynamicsParams {        // dynamics.*
    double tau = 0.03;         // s
    double dt = 0.001;         // s, step of euler/rk4 and the plasticity clock
    double alpha = 10.0;       // inhibition strength
    double bias = 1.0;         // b
    Integrator integrator = Integrator::euler;
    double macro_step = 0.0;   // s, exponential integrator's step; 0 = one presentation
    double abs_tol = 1e-8;     // dopri5
    double rel_tol = 1e-8;     // dopri5
    // Presentations per block (src/core/block.hpp, README "Blocked
    // presentations"): > 1 integrates a block of presentations through
    // matrix products, with the trajectory of block = 1 (the per-presentation
    // path, the test truth) up to rounding. Clamped to the run's
    // presentations; blocks also end at records and checkpoints. Per-neuron
    // inputs (input.noise_std > 0) and model ideal run presentation by
    // presentation whatever the value. The default, 40, was chosen by
    // `dynshare bench --sleep`: fastest of 1, 20 and 40 on a 1000-presentation
    // ResNet-20 phase, and tied with 20 and 100 on the trainer's phases.
    int64_t block = 40;
};

struct PlasticityParams {      // plasticity.*
    double lr = 3.0e-4;        // per step (ei_rate) or per iteration (ideal)
    double gamma = 0.1;
    double momentum = 0.95;
    ScheduleKind schedule = ScheduleKind::inv_sqrt;
    double schedule_t0 = 2.0;  // in steps (iterations for ideal)
    int64_t delay_steps = 50;  // learning rate is 0 before this step
    PlasticityForm form = PlasticityForm::automatic;
    double tau_w = 0.0;        // s, continuous form; 0 = dt (1 - momentum) / lr
    LrScaling lr_scaling = LrScaling::none;  // fan_in: lr (and 1/tau_w) divided by the fan-in
};

struct InputParams {           // input.*
    double presentation = 0.15;  // s each x is shown (ei_rate)
    double noise_std = 0.0;      // x_i = x + noise_std * xi_i
};

struct RunParams {             // run.*
    int64_t presentations = 10000;
    int64_t record_every = 150;     // steps (ei_rate) or iterations (ideal)
    uint64_t seed = 0;
    uint64_t stream = 0;            // second half of the random key (seed, run)
    int64_t checkpoint_every = 500; // presentations between checkpoints in the file
    Precision precision = Precision::automatic;
};

struct StackInput {            // stack.input.*
    int channels = 3, height = 32, width = 32;
};

struct StackLayer {            // one entry of stack.layers
    int channels = 16, kernel = 3, stride = 1, padding = 1;
    Nonlinearity nonlinearity = Nonlinearity::relu;
    double init_mean = 0.0;    // used when no --weights file is given
    double init_std = -1.0;    // < 0: He initialisation, sqrt(2 / fan_in)
};

struct StackParams {           // stack.*
    bool enabled = false;      // true when the config has a stack section
    StackInput input;
    std::vector<StackLayer> layers;
    Connectivity connectivity = Connectivity::grid;
    int period = 0;            // for connectivity period:<p>
    LayerSchedule schedule = LayerSchedule::simultaneous;
    bool normalize = true;     // rescale each propagated pattern to unit RMS
    double drive = 0.0;        // spontaneous module activity added before the nonlinearity
                               // (std, relative to the propagated pattern's RMS); 0 = pure propagation
    BorderInput border = BorderInput::zero;  // what border neurons see in the padding
};

struct SimConfig {
    ModelKind model = ModelKind::ei_rate;
    LayerParams layer;
    DynamicsParams dynamics;
    PlasticityParams plasticity;
    InputParams input;
    RunParams run;
    StackParams stack;

    // Derived values (computed by derive(), never read from YAML).
    int64_t steps_per_presentation() const;   // 1 for ideal
    int64_t total_steps() const;
    PlasticityForm effective_form() const;
    double effective_tau_w() const;
};

// Throws UserError naming the key, the value and the allowed range.
void validate(const SimConfig& cfg);

const char* to_string(ModelKind);
const char* to_string(Integrator);
const char* to_string(ScheduleKind);
const char* to_string(PlasticityForm);
const char* to_string(LrScaling);
const char* to_string(Nonlinearity);
const char* to_string(LayerSchedule);
const char* to_string(BorderInput);
const char* to_string(Precision);

}  // namespace dynshare
