// SPDX-License-Identifier: BSD-3-Clause
// The one table of what each config key means (io/key_descriptions.hpp).
// Adding a key to the schema means adding its line here: the reference test
// names any key without one.
#include "io/key_descriptions.hpp"

namespace dynshare {

const std::vector<KeyText>& key_texts() {
    static const std::vector<KeyText> table = {
        // ---- simulator (dynshare simulate / sweep): SimConfig -------------
        {"model", "", "ideal: the idealised rule of Eq. 4 (iterations); ei_rate: the E/I rate circuit of Eq. 8 (integrated in time)"},
        {"layer.neurons", ">= 2", "N, neurons of the single layer (ignored with a stack section)"},
        {"layer.kernel", ">= 1", "k: each neuron has k^2 inputs"},
        {"layer.init_mean", "", "initial weights are init_mean + init_std * N(0, 1)"},
        {"layer.init_std", ">= 0", "spread of the initial weights (see layer.init_mean)"},
        {"dynamics.tau", "> 0", "rate time constant, seconds"},
        {"dynamics.dt", "> 0", "step of euler/rk4 and the plasticity clock, seconds (euler needs dt < 2 tau / (1 + alpha))"},
        {"dynamics.alpha", ">= 0", "strength of the lateral inhibition within a module"},
        {"dynamics.bias", "", "b, the constant drive of Eq. 8"},
        {"dynamics.integrator", "", "euler, rk4, dopri5 (adaptive) or exponential (exact within a presentation; docs/integrators.md)"},
        {"dynamics.macro_step", ">= 0", "largest step of the exponential integrator, seconds; 0 = one presentation"},
        {"dynamics.abs_tol", "> 0", "absolute tolerance of dopri5"},
        {"dynamics.rel_tol", "> 0", "relative tolerance of dopri5"},
        {"dynamics.block", ">= 1", "presentations integrated per block as matrix products (same trajectory as 1 to 1e-10; speed only)"},
        {"plasticity.lr", ">= 0", "learning rate per step (ei_rate) or per iteration (ideal)"},
        {"plasticity.gamma", ">= 0", "pull back to the initial weights (Eq. 4)"},
        {"plasticity.momentum", "[0, 1)", "momentum of the discrete rule"},
        {"plasticity.schedule", "", "learning-rate schedule: constant lr, inv lr/(t0 + t), inv_sqrt lr/sqrt(1 + t/t0)"},
        {"plasticity.schedule_t0", "> 0", "t0 of the schedule, in steps (iterations for ideal)"},
        {"plasticity.delay_steps", ">= 0", "the learning rate is 0 before this step; afterwards t = step - delay"},
        {"plasticity.form", "", "discrete (momentum SGD per step), continuous (dw/dt = -g/tau_w), auto (discrete for euler/rk4, continuous otherwise)"},
        {"plasticity.tau_w", ">= 0", "time constant of the continuous form, seconds; 0 = dt (1 - momentum) / lr"},
        {"plasticity.lr_scaling", "", "none: every neuron uses lr; fan_in: a neuron with F inputs uses lr / F"},
        {"input.presentation", "> 0", "seconds each input x is shown (a whole number of dynamics.dt)"},
        {"input.noise_std", ">= 0", "per-neuron input noise: x_i = x + noise_std * xi_i"},
        {"run.presentations", ">= 1", "presentations (iterations for ideal) in the run"},
        {"run.record_every", ">= 1", "steps (iterations for ideal) between SNR records"},
        {"run.seed", "", "seeds every random draw (inputs, initial weights, noise)"},
        {"run.stream", "", "second half of the random key (seed, stream)"},
        {"run.checkpoint_every", ">= 1", "presentations between checkpoints in the output file"},
        {"run.precision", "", "arithmetic of the per-neuron state: fp64, fp32, or auto (fp64 on the CPU, the CUDA backend's default on a GPU)"},
        {"stack.input.channels", ">= 1", "channels of the first LC layer's input (a section `stack` switches the stacked model on)"},
        {"stack.input.height", ">= 1", "height of the first LC layer's input"},
        {"stack.input.width", ">= 1", "width of the first LC layer's input"},
        {"stack.layers", "", "the chain of 2D locally connected layers, first to last (at least one)"},
        {"stack.layers[].channels", ">= 1", "output channels of the layer"},
        {"stack.layers[].kernel", ">= 1", "kernel size k (c_in k^2 weights per output neuron)"},
        {"stack.layers[].stride", ">= 1", "stride"},
        {"stack.layers[].padding", ">= 0", "zero padding on each side"},
        {"stack.layers[].nonlinearity", "", "what the layer passes on: relu or identity of its module-mean drive"},
        {"stack.layers[].init_mean", "", "mean of the initial weights (when no --weights file is given)"},
        {"stack.layers[].init_std", "", "spread of the initial weights; < 0 = He, sqrt(2 / fan_in)"},
        {"stack.connectivity", "", "modules: grid (period k, k^2 modules per channel), full (one per channel), period:<p>"},
        {"stack.schedule", "", "plasticity in all layers at once (simultaneous) or one layer after the other (layer_by_layer)"},
        {"stack.normalize", "", "rescale each propagated pattern to unit RMS"},
        {"stack.drive", ">= 0", "spontaneous module activity added before the nonlinearity (std relative to the pattern's RMS); 0 = pure propagation"},
        {"stack.border", "", "what a border neuron reads in the padding: zero, or periodic (the pattern's periodic continuation)"},
        // ---- trainer (dynshare train): RunConfig --------------------------
        {"network.arch", "", "resnet20 (CIFAR ResNet-20), resnet18 (width-scalable) or small (depth LC layers)"},
        {"network.connectivity", "", "conv (convolutional) or lc (locally connected)"},
        {"network.width", "[0, 4096]", "channels of the first stage; 0 = the arch's default (16, resnet18 64)"},
        {"network.depth", "[1, 6]", "small: number of spatial layers"},
        {"network.kernel", ">= 1", "small: kernel size (odd)"},
        {"network.first_conv_layers", ">= 0", "the first n spatial layers stay convolutional"},
        {"network.conv_1x1", "", "1x1 (shortcut) layers convolutional rather than LC"},
        {"network.conv_init_eps", "", ">= 0: LC layers start as one shared kernel + eps * noise; < 0: off"},
        {"network.batch_norm", "", "batch norm after every spatial layer"},
        {"network.lc_algorithm", "", "the LC layer's algorithm: auto, cache_kernel (CPU only), patches_bmm or naive"},
        {"network.init", "", "authors: He normal on the fan-out, as the authors' code; torch_default: torch's Conv2d default"},
        {"data.dataset", "", "fashion_mnist (Debian's dataset-fashion-mnist), cifar10 or cifar100 (binary format)"},
        {"data.path", "", "folder of the dataset's files"},
        {"data.canvas", ">= 0", "> 0: each image at a random offset (fixed per image) in a canvas of this size (translated variant)"},
        {"data.padding", ">= 0", "zero padding for the random crop"},
        {"data.flip", "", "random horizontal flips"},
        {"data.repetitions", ">= 1", "random crops of each image per batch"},
        {"data.repetition_batch", "", "fixed: a batch stays B images (the paper); grow: B originals x n crops (the authors' code)"},
        {"data.validation", ">= 0", "training images held out for validation"},
        {"data.final_test", "", "evaluate on the test set"},
        {"data.limit_train", ">= 0", "> 0: only the first n training images (smoke runs)"},
        {"data.limit_test", ">= 0", "> 0: only the first n test images"},
        {"sharing.mode", "", "weight sharing between iterations: none, instant (module means), hebbian (Eq. 4), hebbian_authors, simulated (the Eq. 8 sleep phase)"},
        {"sharing.every", ">= 1", "iterations between sharing phases"},
        {"sharing.presentations", ">= 1", "presentations of a hebbian or simulated phase"},
        {"sharing.presentations_per_fan_in", "[0, 100000]", "simulated mode: each layer asks for ceil(F * c_in k^2) presentations and the phase runs the largest (0 = sharing.presentations for every layer); a phase over 100,000 presentations is refused"},
        {"sharing.lr", "> 0", "hebbian: learning rate (patterns have unit norm)"},
        {"sharing.gamma", ">= 0", "hebbian: pull back to the weights at the phase's start"},
        {"sharing.counter", "", "global: after every `every`-th iteration of the run; epoch: on batch indices 0, every, ... of each epoch (the authors')"},
        {"sharing.modules", "", "grid: positions k apart form a module; full: all positions of a channel"},
        {"sharing.gradient", "", "own, or module_mean: each LC gradient replaced by its module's mean (the full-module diagnostic)"},
        {"train.epochs", ">= 1", "epochs"},
        {"train.batch_size", ">= 1", "global batch (split over the ranks of a data-parallel run)"},
        {"train.lr", "> 0", "AdamW learning rate"},
        {"train.weight_decay", ">= 0", "AdamW weight decay"},
        {"train.lr_decay_epochs", "", "epochs after which the learning rate is multiplied by lr_decay"},
        {"train.lr_decay", "> 0", "factor of each learning-rate decay"},
        {"train.max_iterations", ">= 0", "> 0: stop after n iterations (smoke runs)"},
        {"train.seed", "", "seeds initialisation, data order, augmentation and sharing"},
        {"train.device", "one of cpu, cuda", "where the network trains (cuda: a CUDA LibTorch)"},
        {"train.threads", ">= 0", "CPU threads; 0 = every CPU"},
        {"train.checkpoint_every", ">= 0", "epochs between checkpoints; 0 = only at the end"},
        {"train.eval_batch_size", ">= 1", "batch size of evaluations"},
        {"train.eval_every", ">= 1", "epochs between evaluations (the last epoch is always evaluated)"},
        {"train.progress", "one of auto, always, never", "progress line on stderr (auto: when it is a terminal)"},
        {"train.bn_update", "", "re-estimate batch-norm statistics: off, before_eval, or after_share"},
        {"train.bn_update_batches", ">= 1", "training batches of a batch-norm re-estimation"},
        {"sleep.plasticity.lr", "> 0", "learning rate of the sleep phase (per unit input power with lr_scaling fan_in)"},
        {"sleep.precision", "", "arithmetic of the sleep phase: auto (fp64 on the CPU), fp64 or fp32 (the simulator's run.precision)"},
    };
    return table;
}

const KeyText* key_text(const std::string& path) {
    for (const KeyText& t : key_texts())
        if (path == t.path) return &t;
    const std::string sleep = "sleep.";
    if (path.compare(0, sleep.size(), sleep) == 0) {
        const std::string simulator_key = path.substr(sleep.size());
        for (const KeyText& t : key_texts())
            if (simulator_key == t.path) return &t;
    }
    return nullptr;
}

}  // namespace dynshare
