// SPDX-License-Identifier: BSD-3-Clause
// YAML -> RunConfig through the simulator's schema mechanism (src/io/schema.hpp):
// one visit() per section below lists its keys once, and the same lists drive
// reading, writing (to_yaml), --set checks and the parameter attributes of
// metrics.h5. sleep.dynamics/plasticity/input are the simulator's own sections
// (src/io/config_schema.hpp), validated by its validate().
#include "trainer/train_config.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>

#include "dynshare/errors.hpp"
#include "dynshare/sleep_phase.hpp"
#include "io/config_schema.hpp"
#include "io/config_yaml.hpp"
#include "io/schema.hpp"

namespace dynshare::trainer {

std::vector<Arch> enum_values(schema::tag<Arch>) { return {Arch::resnet20, Arch::resnet18, Arch::small}; }
std::vector<Connect> enum_values(schema::tag<Connect>) { return {Connect::conv, Connect::lc}; }
std::vector<Dataset> enum_values(schema::tag<Dataset>) {
    return {Dataset::fashion_mnist, Dataset::cifar10, Dataset::cifar100};
}
std::vector<SharingMode> enum_values(schema::tag<SharingMode>) {
    return {SharingMode::none, SharingMode::instant, SharingMode::hebbian, SharingMode::hebbian_authors,
            SharingMode::simulated};
}
std::vector<InitKind> enum_values(schema::tag<InitKind>) { return {InitKind::authors, InitKind::torch_default}; }
std::vector<RepetitionBatch> enum_values(schema::tag<RepetitionBatch>) {
    return {RepetitionBatch::fixed, RepetitionBatch::grow};
}
std::vector<SharingCounter> enum_values(schema::tag<SharingCounter>) {
    return {SharingCounter::global, SharingCounter::epoch};
}
std::vector<SharingModules> enum_values(schema::tag<SharingModules>) {
    return {SharingModules::grid, SharingModules::full};
}
std::vector<SharingGradient> enum_values(schema::tag<SharingGradient>) {
    return {SharingGradient::own, SharingGradient::module_mean};
}
std::vector<BnUpdate> enum_values(schema::tag<BnUpdate>) {
    return {BnUpdate::off, BnUpdate::before_eval, BnUpdate::after_share};
}
std::vector<LcAlgorithm> enum_values(schema::tag<LcAlgorithm>) {
    return {LcAlgorithm::automatic, LcAlgorithm::cache_kernel, LcAlgorithm::patches_bmm, LcAlgorithm::naive};
}

// sleep.stack: the stack keys that do not describe the geometry (the layers,
// input and connectivity are the network's own, sharing_simulated.cpp).
struct SleepStack {
    StackParams& p;
};
// sleep: the engine's parameters for sharing.mode simulated.
struct SleepSection {
    SimConfig& c;
};

// ---- the schema (the order here is the order of to_yaml) -------------------

template <class V> void visit(V& v, NetworkConfig& n) {
    v("arch", n.arch); v("connectivity", n.connectivity); v("width", n.width); v("depth", n.depth);
    v("kernel", n.kernel); v("first_conv_layers", n.first_conv_layers); v("conv_1x1", n.conv_1x1);
    v("conv_init_eps", n.conv_init_eps); v("batch_norm", n.batch_norm); v("lc_algorithm", n.lc_algorithm);
    v("init", n.init);
}
template <class V> void visit(V& v, DataConfig& d) {
    v("dataset", d.dataset); v("path", d.path); v("canvas", d.canvas); v("padding", d.padding); v("flip", d.flip);
    v("repetitions", d.repetitions); v("repetition_batch", d.repetition_batch); v("validation", d.validation); v("final_test", d.final_test);
    v("limit_train", d.limit_train); v("limit_test", d.limit_test);
}
template <class V> void visit(V& v, SharingConfig& s) {
    v("mode", s.mode); v("every", s.every); v("presentations", s.presentations);
    v("presentations_per_fan_in", s.presentations_per_fan_in); v("lr", s.lr); v("gamma", s.gamma);
    v("counter", s.counter); v("modules", s.modules); v("gradient", s.gradient);
}
template <class V> void visit(V& v, TrainConfig& t) {
    v("epochs", t.epochs); v("batch_size", t.batch_size); v("lr", t.lr); v("weight_decay", t.weight_decay);
    v("lr_decay_epochs", t.lr_decay_epochs); v("lr_decay", t.lr_decay); v("max_iterations", t.max_iterations);
    v("seed", t.seed); v("device", t.device); v("threads", t.threads); v("checkpoint_every", t.checkpoint_every);
    v("eval_batch_size", t.eval_batch_size); v("eval_every", t.eval_every); v("progress", t.progress);
    v("bn_update", t.bn_update); v("bn_update_batches", t.bn_update_batches);
}
template <class V> void visit(V& v, SleepStack& s) {
    v("normalize", s.p.normalize); v("drive", s.p.drive); v("schedule", s.p.schedule); v("border", s.p.border);
}
template <class V> void visit(V& v, SleepSection& s) {
    SleepStack stack{s.c.stack};
    v("dynamics", s.c.dynamics); v("plasticity", s.c.plasticity); v("input", s.c.input); v("stack", stack);
    v("precision", s.c.run.precision);
}

template <class V> void visit(V& v, RunConfig& c) {
    SleepSection sleep{c.sleep};
    v("network", c.network); v("data", c.data); v("sharing", c.sharing); v("train", c.train); v("sleep", sleep);
}

namespace {

// ---- validation (after reading; messages "key = value: rule") ---------------

template <class T> std::string show(const T& value) {
    if constexpr (std::is_same_v<T, std::string>) return value;
    else if constexpr (std::is_floating_point_v<T>) return schema::format_double(value);
    else return std::to_string(value);
}

template <class T> void require(bool ok, const std::string& key, const T& value, const std::string& rule) {
    if (!ok) throw UserError(key + " = " + show(value) + ": " + rule);
}

void validate(RunConfig& c) {
    auto& n = c.network;
    if (n.width == 0) n.width = n.arch == Arch::resnet18 ? 64 : 16;
    require(n.width > 0 && n.width <= 4096, "network.width", n.width, "must be in [1, 4096] (0 = the arch's default)");
    require(n.depth >= 1 && n.depth <= 6, "network.depth", n.depth, "must be in [1, 6]");
    require(n.kernel >= 1 && n.kernel % 2 == 1, "network.kernel", n.kernel, "must be odd and positive");
    require(n.first_conv_layers >= 0, "network.first_conv_layers", n.first_conv_layers, "must be >= 0");
    const auto& d = c.data;
    require(d.canvas >= 0, "data.canvas", d.canvas, "must be >= 0");
    require(d.padding >= 0, "data.padding", d.padding, "must be >= 0");
    require(d.repetitions >= 1, "data.repetitions", d.repetitions, "must be >= 1");
    require(d.validation >= 0, "data.validation", d.validation, "must be >= 0");
    require(d.limit_train >= 0, "data.limit_train", d.limit_train, "must be >= 0");
    require(d.limit_test >= 0, "data.limit_test", d.limit_test, "must be >= 0");
    const auto& s = c.sharing;
    require(s.every >= 1, "sharing.every", s.every, "the sharing period must be >= 1");
    require(s.presentations >= 1, "sharing.presentations", s.presentations, "must be >= 1");
    require(std::isfinite(s.presentations_per_fan_in) && s.presentations_per_fan_in >= 0 &&
                s.presentations_per_fan_in <= double(kMaxSleepPresentations),
            "sharing.presentations_per_fan_in", s.presentations_per_fan_in,
            "must be a number in [0, " + std::to_string(kMaxSleepPresentations) +
                "] (presentations per phase per unit of a layer's fan-in c_in k^2; 0 = sharing.presentations for every layer)");
    require(s.presentations_per_fan_in == 0 || s.mode == SharingMode::simulated, "sharing.presentations_per_fan_in",
            s.presentations_per_fan_in,
            std::string("applies to sharing.mode simulated only (mode is ") + to_string(s.mode) + "; use 0)");
    require(s.lr > 0, "sharing.lr", s.lr, "must be > 0");
    require(s.gamma >= 0, "sharing.gamma", s.gamma, "must be >= 0");
    const auto& t = c.train;
    require(t.epochs >= 1, "train.epochs", t.epochs, "must be >= 1");
    require(t.batch_size >= 1, "train.batch_size", t.batch_size, "must be >= 1");
    require(t.lr > 0, "train.lr", t.lr, "must be > 0");
    require(t.weight_decay >= 0, "train.weight_decay", t.weight_decay, "must be >= 0");
    require(t.lr_decay > 0, "train.lr_decay", t.lr_decay, "must be > 0");
    require(t.max_iterations >= 0, "train.max_iterations", t.max_iterations, "must be >= 0");
    require(t.device == "cpu" || t.device == "cuda", "train.device", t.device, "expected one of cpu, cuda");
    require(t.threads >= 0, "train.threads", t.threads, "must be >= 0 (0 = every CPU)");
    require(t.checkpoint_every >= 0, "train.checkpoint_every", t.checkpoint_every, "must be >= 0");
    require(t.eval_batch_size >= 1, "train.eval_batch_size", t.eval_batch_size, "must be >= 1");
    require(t.eval_every >= 1, "train.eval_every", t.eval_every, "must be >= 1");
    require(t.bn_update_batches >= 1, "train.bn_update_batches", t.bn_update_batches, "must be >= 1");
    require(t.progress == "auto" || t.progress == "always" || t.progress == "never", "train.progress", t.progress,
            "expected one of auto, always, never");
    require(!(n.lc_algorithm == LcAlgorithm::cache_kernel && t.device == "cuda"), "network.lc_algorithm",
            std::string(to_string(n.lc_algorithm)), "cache_kernel runs on the CPU only (train.device = cuda: use auto or patches_bmm)");
    // The sleep phase: the simulator's own rules for dynamics, plasticity and input.
    SimConfig engine = c.sleep;
    engine.stack.enabled = false;
    try {
        dynshare::validate(engine);
    } catch (const UserError& e) {
        throw UserError(std::string("sleep: ") + e.what());
    }
    require(c.sleep.stack.drive >= 0 && std::isfinite(c.sleep.stack.drive), "sleep.stack.drive", c.sleep.stack.drive,
            "must be >= 0");
    require(c.sleep.plasticity.lr > 0, "sleep.plasticity.lr", c.sleep.plasticity.lr, "must be > 0");
}

// The config from its parsed YAML (`root`, changed by the overrides): each
// text is parsed once.
RunConfig from_node(YAML::Node root, const std::vector<std::pair<std::string, std::string>>& overrides,
                    const std::string& origin) {
    for (const auto& [key, value] : overrides) {
        const std::string set = "--set " + key + "=" + value + ": ";
        YAML::Node node;
        try {
            node = YAML::Load(value);
        } catch (const YAML::ParserException& e) {
            throw UserError(set + "bad YAML value: " + e.msg);
        }
        try {
            schema::apply_override<RunConfig>(root, key, node);
        } catch (const UserError& e) {
            throw UserError(set + e.what());
        }
    }
    try {
        RunConfig cfg;
        schema::read_root(root, cfg);
        validate(cfg);
        return cfg;
    } catch (const UserError& e) {
        throw UserError(origin.empty() ? e.what() : origin + ": " + e.what());
    }
}

}  // namespace

// Defaults of the simulated sleep phase inside training: the engine's own
// (include/dynshare/sleep_phase.hpp, reasons in src/backends/sleep_phase.cpp),
// shared with the Python package's sleep_phase.
SimConfig default_sleep_config() { return sleep_phase_defaults(); }

RunConfig parse_run_config(const std::string& yaml_text,
                           const std::vector<std::pair<std::string, std::string>>& overrides) {
    return from_node(load_yaml(yaml_text, ""), overrides, "");
}

// A training run needs its CONFIG: a folder, an unreadable or an empty file
// (nothing but comments) is an error naming it, not a default run.
RunConfig load_run_config(const std::string& path,
                          const std::vector<std::pair<std::string, std::string>>& overrides) {
    const YAML::Node root = load_yaml(read_text_file(path, "config file"), path);
    if (schema::is_empty(root))
        throw UserError("config file '" + path + "' is empty (a training config sets at least network, data and train; "
                        "see experiments/train_fmnist_quick.yaml)");
    return from_node(root, overrides, path);
}

const char* to_string(Arch a) {
    switch (a) {
    case Arch::resnet20: return "resnet20";
    case Arch::resnet18: return "resnet18";
    case Arch::small: return "small";
    }
    return "?";
}
const char* to_string(LcAlgorithm a) {
    switch (a) {
    case LcAlgorithm::automatic: return "auto";
    case LcAlgorithm::cache_kernel: return "cache_kernel";
    case LcAlgorithm::patches_bmm: return "patches_bmm";
    case LcAlgorithm::naive: return "naive";
    }
    return "?";
}
const char* to_string(Connect c) { return c == Connect::conv ? "conv" : "lc"; }
const char* to_string(Dataset d) {
    switch (d) {
    case Dataset::fashion_mnist: return "fashion_mnist";
    case Dataset::cifar10: return "cifar10";
    case Dataset::cifar100: return "cifar100";
    }
    return "?";
}
const char* to_string(SharingMode m) {
    switch (m) {
    case SharingMode::none: return "none";
    case SharingMode::instant: return "instant";
    case SharingMode::hebbian: return "hebbian";
    case SharingMode::hebbian_authors: return "hebbian_authors";
    case SharingMode::simulated: return "simulated";
    }
    return "?";
}

const char* to_string(InitKind k) { return k == InitKind::authors ? "authors" : "torch_default"; }
const char* to_string(RepetitionBatch r) { return r == RepetitionBatch::fixed ? "fixed" : "grow"; }
const char* to_string(SharingCounter c) { return c == SharingCounter::global ? "global" : "epoch"; }
const char* to_string(SharingModules m) { return m == SharingModules::grid ? "grid" : "full"; }
const char* to_string(SharingGradient g) { return g == SharingGradient::own ? "own" : "module_mean"; }
const char* to_string(BnUpdate b) {
    switch (b) {
    case BnUpdate::off: return "off";
    case BnUpdate::before_eval: return "before_eval";
    case BnUpdate::after_share: return "after_share";
    }
    return "?";
}

std::string to_yaml(const RunConfig& c) { return schema::write_yaml(c); }

schema::Scalars config_scalars(const RunConfig& c) { return schema::scalars(c); }

std::vector<schema::KeyDoc> describe_run_config() { return schema::describe(RunConfig{}); }

}  // namespace dynshare::trainer
