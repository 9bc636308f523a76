// SPDX-License-Identifier: BSD-3-Clause
// Typed, validated parameters of one training run. The YAML (and --set
// overrides) becomes these structs once, in train_config.cpp; the rest of
// the trainer never sees YAML. Key paths: network.*, data.*, sharing.*,
// train.*, sleep.* (documented in experiments/train_fmnist_quick.yaml).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dynshare/config.hpp"
#include "io/key_doc.hpp"
#include "io/scalar_value.hpp"
#include "trainer/lc_algorithm.hpp"

namespace dynshare::trainer {

enum class Arch { resnet20, resnet18, small };
enum class Connect { conv, lc };
enum class Dataset { fashion_mnist, cifar10, cifar100 };
enum class SharingMode { none, instant, hebbian, hebbian_authors, simulated };
// network.init: the authors' He normal (fan-out, ReLU gain) or torch's Conv2d default.
enum class InitKind { authors, torch_default };
// data.repetition_batch: fixed = B images of B/n originals x n crops (the
// paper's text); grow = B originals x n crops, a batch of n*B (the authors' code).
enum class RepetitionBatch { fixed, grow };
// sharing.counter: global = after every `every`-th iteration of the run;
// epoch = when the batch index within the epoch is a multiple of `every`
// (0, every, ...), i.e. also after the first iteration of every epoch (the authors').
enum class SharingCounter { global, epoch };
// sharing.modules: grid = positions k apart form a module (period = kernel);
// full = all positions of a channel are one module.
enum class SharingModules { grid, full };
// sharing.gradient: own = each LC weight's own gradient reaches AdamW;
// module_mean = it is replaced by the mean gradient of its module (modules
// as sharing.modules) before the optimizer step. With full modules and a
// shared initial kernel, an LC layer is then exactly a convolution, AdamW's
// per-parameter scaling included: the diagnostic of the full-module check.
enum class SharingGradient { own, module_mean };
// train.bn_update: re-estimate batch-norm running statistics on
// train.bn_update_batches training batches (as SWA's bn_update does):
// off, before every evaluation, or after every sharing phase.
enum class BnUpdate { off, before_eval, after_share };

struct NetworkConfig {
    Arch arch = Arch::resnet20;
    Connect connectivity = Connect::lc;
    int width = 0;               // channels of the first stage; 0 = the arch's default
    int depth = 3;               // small: number of LC layers (1-6)
    int kernel = 3;              // small: kernel size
    int first_conv_layers = 0;   // the first n spatial layers stay convolutional
    bool conv_1x1 = false;       // 1x1 (shortcut) layers convolutional
    double conv_init_eps = -1.0; // >= 0: LC starts as one shared kernel + eps * noise
    InitKind init = InitKind::authors;
    bool batch_norm = true;
    LcAlgorithm lc_algorithm = LcAlgorithm::automatic;  // network.lc_algorithm (lc_algorithm.hpp)
};

struct DataConfig {
    Dataset dataset = Dataset::fashion_mnist;
    std::string path = "/usr/share/datasets/fashion-mnist";
    int canvas = 0;        // > 0: each image at a random (fixed) offset in a canvas
    int padding = 4;       // random-crop padding (zero after normalisation)
    bool flip = false;     // random horizontal flips
    int repetitions = 1;   // copies of each image per batch, independent crops
    RepetitionBatch repetition_batch = RepetitionBatch::fixed;
    int validation = 5000; // images held out of the training split
    bool final_test = true;// evaluate on the test set every epoch
    int limit_train = 0;   // > 0: use only the first n training images (smoke runs)
    int limit_test = 0;
};

// The stated cap on one simulated sleep phase's presentations under
// sharing.presentations_per_fan_in: a rule that asks for more (on the run's
// network, before training starts) is refused. 100,000 presentations is
// hours per phase on a CPU, far beyond any useful phase.
constexpr int64_t kMaxSleepPresentations = 100000;

struct SharingConfig {
    SharingMode mode = SharingMode::none;
    int every = 10;             // iterations between sharing phases
    int64_t presentations = 100;// hebbian and simulated
    // simulated, > 0: presentations per phase follow each layer's fan-in,
    // ceil(F * c_in * k^2) (sharing.hpp: layer_presentations); 0: presentations
    double presentations_per_fan_in = 0;
    double lr = 0.5;            // hebbian step (patterns have unit norm)
    double gamma = 0.01;        // hebbian pull to the initial weights (Eq. 4)
    SharingCounter counter = SharingCounter::global;
    SharingModules modules = SharingModules::grid;
    SharingGradient gradient = SharingGradient::own;
};

struct TrainConfig {
    int epochs = 10;
    int batch_size = 128;
    double lr = 1.0e-3;
    double weight_decay = 1.0e-4;
    std::vector<int> lr_decay_epochs;
    double lr_decay = 0.25;
    int64_t max_iterations = 0;
    uint64_t seed = 0;
    std::string device = "cpu";
    int threads = 0;
    int checkpoint_every = 1;   // epochs; 0 = only at the end
    int eval_batch_size = 500;
    int eval_every = 1;         // epochs between test/validation evaluations (the last epoch always)
    std::string progress = "auto";  // auto | always | never
    BnUpdate bn_update = BnUpdate::before_eval;
    int bn_update_batches = 10;
};

// The sleep phase's engine parameters when the config gives none (see
// train_config.cpp for why they differ from the simulator's defaults).
SimConfig default_sleep_config();

struct RunConfig {
    NetworkConfig network;
    DataConfig data;
    SharingConfig sharing;
    TrainConfig train;
    SimConfig sleep = default_sleep_config();  // simulated mode: dynamics/plasticity/input/stack keys of the engine
};

// Parses YAML text with `key=value` overrides applied (value parsed as YAML).
// Throws UserError naming the key for unknown keys and invalid values.
RunConfig parse_run_config(const std::string& yaml_text,
                           const std::vector<std::pair<std::string, std::string>>& overrides);
RunConfig load_run_config(const std::string& path,
                          const std::vector<std::pair<std::string, std::string>>& overrides);

// The resolved configuration (every key, defaults included) as YAML.
std::string to_yaml(const RunConfig& cfg);
// Its scalar keys under their full key paths (train.lr, sleep.dynamics.alpha...):
// the parameter attributes of metrics.h5.
schema::Scalars config_scalars(const RunConfig& cfg);
// Every key of the trainer's config, in the schema's order, with the defaults
// of a config that sets nothing (dynshare config --reference).
std::vector<schema::KeyDoc> describe_run_config();

const char* to_string(Arch);
const char* to_string(Connect);
const char* to_string(Dataset);
const char* to_string(SharingMode);
const char* to_string(LcAlgorithm);
const char* to_string(InitKind);
const char* to_string(RepetitionBatch);
const char* to_string(SharingCounter);
const char* to_string(SharingModules);
const char* to_string(SharingGradient);
const char* to_string(BnUpdate);

}  // namespace dynshare::trainer
