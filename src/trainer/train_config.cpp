// YAML -> RunConfig. The document is flattened to dotted keys ("train.lr"),
// overrides replace or add keys, and each reader consumes the keys it knows;
// any key left over is an error that names it (as arbor's json_params does).
#include "trainer/train_config.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "dynshare/errors.hpp"
#include "io/config_yaml.hpp"

namespace dynshare::trainer {
namespace {

using Flat = std::map<std::string, YAML::Node>;


void flatten(const YAML::Node& node, const std::string& prefix, Flat& out) {
    if (node.IsMap()) {
        for (const auto& kv : node) {
            const std::string key = kv.first.as<std::string>();
            flatten(kv.second, prefix.empty() ? key : prefix + "." + key, out);
        }
    } else if (!prefix.empty()) {
        out[prefix] = node;
    }
}

// Consumes keys of one section; reports bad values with the key's name.
class Reader {
public:
    explicit Reader(Flat& flat) : flat_(flat) {}

    template <typename T>
    void get(const std::string& key, T& value) {
        auto it = flat_.find(key);
        if (it == flat_.end()) return;
        try {
            value = it->second.as<T>();
        } catch (const YAML::Exception&) {
            throw UserError("invalid value for " + key + ": '" + dump(it->second) + "'");
        }
        flat_.erase(it);
    }

    template <typename E>
    void get_enum(const std::string& key, E& value, const std::vector<std::pair<std::string, E>>& names) {
        std::string s;
        auto it = flat_.find(key);
        if (it == flat_.end()) return;
        get(key, s);
        for (const auto& [name, e] : names)
            if (name == s) { value = e; return; }
        std::string allowed;
        for (const auto& n : names) allowed += (allowed.empty() ? "" : ", ") + n.first;
        throw UserError("invalid value for " + key + ": '" + s + "' (allowed: " + allowed + ")");
    }

    static std::string dump(const YAML::Node& n) {
        YAML::Emitter e;
        e << YAML::Flow << n;
        return e.c_str();
    }

private:
    Flat& flat_;
};

void require(bool ok, const std::string& key, const std::string& what) {
    if (!ok) throw UserError("invalid value for " + key + ": " + what);
}

void read_network(Reader& r, NetworkConfig& n) {
    r.get_enum("network.arch", n.arch, {{"resnet20", Arch::resnet20}, {"resnet18", Arch::resnet18}, {"small", Arch::small}});
    r.get_enum("network.connectivity", n.connectivity, {{"conv", Connect::conv}, {"lc", Connect::lc}});
    r.get("network.width", n.width);
    r.get("network.depth", n.depth);
    r.get("network.kernel", n.kernel);
    r.get("network.first_conv_layers", n.first_conv_layers);
    r.get("network.conv_1x1", n.conv_1x1);
    r.get("network.conv_init_eps", n.conv_init_eps);
    r.get("network.batch_norm", n.batch_norm);
    r.get_enum("network.lc_algorithm", n.lc_algorithm,
               {{"auto", LcAlgorithm::automatic}, {"cache_kernel", LcAlgorithm::cache_kernel},
                {"patches_bmm", LcAlgorithm::patches_bmm}, {"naive", LcAlgorithm::naive}});
    if (n.width == 0) n.width = n.arch == Arch::resnet18 ? 64 : 16;
    require(n.width > 0 && n.width <= 4096, "network.width", "must be in [1, 4096]");
    require(n.depth >= 1 && n.depth <= 6, "network.depth", "must be in [1, 6]");
    require(n.kernel >= 1 && n.kernel % 2 == 1, "network.kernel", "must be odd and positive");
    require(n.first_conv_layers >= 0, "network.first_conv_layers", "must be >= 0");
}

void read_data(Reader& r, DataConfig& d) {
    r.get_enum("data.dataset", d.dataset,
               {{"fashion_mnist", Dataset::fashion_mnist}, {"cifar10", Dataset::cifar10}, {"cifar100", Dataset::cifar100}});
    r.get("data.path", d.path);
    r.get("data.canvas", d.canvas);
    r.get("data.padding", d.padding);
    r.get("data.flip", d.flip);
    r.get("data.repetitions", d.repetitions);
    r.get("data.validation", d.validation);
    r.get("data.final_test", d.final_test);
    r.get("data.limit_train", d.limit_train);
    r.get("data.limit_test", d.limit_test);
    require(d.canvas >= 0, "data.canvas", "must be >= 0");
    require(d.padding >= 0, "data.padding", "must be >= 0");
    require(d.repetitions >= 1, "data.repetitions", "must be >= 1");
    require(d.validation >= 0, "data.validation", "must be >= 0");
    require(d.limit_train >= 0 && d.limit_test >= 0, "data.limit_train/limit_test", "must be >= 0");
}

void read_sharing(Reader& r, SharingConfig& s) {
    r.get_enum("sharing.mode", s.mode,
               {{"none", SharingMode::none}, {"instant", SharingMode::instant},
                {"hebbian", SharingMode::hebbian}, {"simulated", SharingMode::simulated}});
    r.get("sharing.every", s.every);
    r.get("sharing.presentations", s.presentations);
    r.get("sharing.lr", s.lr);
    r.get("sharing.gamma", s.gamma);
    require(s.every >= 1, "sharing.every", std::to_string(s.every) + " (the sharing period must be >= 1)");
    require(s.presentations >= 1, "sharing.presentations", "must be >= 1");
    require(s.lr > 0 && s.gamma >= 0, "sharing.lr/gamma", "lr must be > 0 and gamma >= 0");
}

void read_train(Reader& r, TrainConfig& t) {
    r.get("train.epochs", t.epochs);
    r.get("train.batch_size", t.batch_size);
    r.get("train.lr", t.lr);
    r.get("train.weight_decay", t.weight_decay);
    r.get("train.lr_decay_epochs", t.lr_decay_epochs);
    r.get("train.lr_decay", t.lr_decay);
    r.get("train.max_iterations", t.max_iterations);
    r.get("train.seed", t.seed);
    r.get("train.device", t.device);
    r.get("train.threads", t.threads);
    r.get("train.checkpoint_every", t.checkpoint_every);
    r.get("train.eval_batch_size", t.eval_batch_size);
    r.get("train.eval_every", t.eval_every);
    r.get("train.progress", t.progress);
    require(t.epochs >= 1, "train.epochs", "must be >= 1");
    require(t.batch_size >= 1, "train.batch_size", "must be >= 1");
    require(t.lr > 0, "train.lr", "must be > 0");
    require(t.weight_decay >= 0, "train.weight_decay", "must be >= 0");
    require(t.lr_decay > 0, "train.lr_decay", "must be > 0");
    require(t.max_iterations >= 0, "train.max_iterations", "must be >= 0");
    require(t.device == "cpu" || t.device == "cuda", "train.device", "'" + t.device + "' (allowed: cpu, cuda)");
    require(t.threads >= 0, "train.threads", "must be >= 0");
    require(t.checkpoint_every >= 0, "train.checkpoint_every", "must be >= 0");
    require(t.eval_batch_size >= 1, "train.eval_batch_size", "must be >= 1");
    require(t.eval_every >= 1, "train.eval_every", "must be >= 1");
    require(t.progress == "auto" || t.progress == "always" || t.progress == "never", "train.progress",
            "'" + t.progress + "' (allowed: auto, always, never)");
}

// Engine parameters of the simulated sleep phase: sleep.dynamics.*,
// sleep.plasticity.* and sleep.input.* are the simulator's own keys (read and
// validated by its schema, src/io/config_yaml.cpp, so every simulator key
// works here and is checked the same way); sleep.stack.{normalize, drive,
// schedule, border} are the stack keys that do not describe the geometry. The rest of
// the engine config (stack geometry, run length, seeds) comes from the
// network and sharing.* when a phase starts (sharing_simulated.cpp).
void read_sleep(Flat& flat, SimConfig& c) {
    const SimConfig defaults = default_sleep_config();
    SimConfig no_stack = defaults;
    no_stack.stack.enabled = false;
    const YAML::Node written = YAML::Load(dynshare::to_yaml(no_stack));
    YAML::Node tree;
    for (const char* section : {"dynamics", "plasticity", "input"}) tree[section] = written[section];
    for (auto it = flat.begin(); it != flat.end();) {
        const std::string& key = it->first;
        if (key.rfind("sleep.", 0) != 0 || key.rfind("sleep.stack.", 0) == 0) {
            ++it;
            continue;
        }
        const std::string rest = key.substr(6);
        const size_t dot = rest.find('.');
        const std::string section = rest.substr(0, dot);
        if (section != "dynamics" && section != "plasticity" && section != "input")
            throw UserError("unknown key: " + key +
                            " (sleep sections: dynamics, plasticity, input, stack.{normalize, drive, schedule, border}; "
                            "the model, run and stack geometry come from the network and sharing.*)");
        if (dot == std::string::npos || rest.find('.', dot + 1) != std::string::npos)
            throw UserError("unknown key: " + key + " (expected sleep." + section + ".<key>)");
        tree[section][rest.substr(dot + 1)] = it->second;
        it = flat.erase(it);
    }
    c = config_from_node(tree, "sleep");
    c.stack = defaults.stack;
    Reader r(flat);
    r.get("sleep.stack.normalize", c.stack.normalize);
    r.get("sleep.stack.drive", c.stack.drive);
    r.get_enum("sleep.stack.schedule", c.stack.schedule,
               {{"simultaneous", LayerSchedule::simultaneous}, {"layer_by_layer", LayerSchedule::layer_by_layer}});
    r.get_enum("sleep.stack.border", c.stack.border, {{"zero", BorderInput::zero}, {"periodic", BorderInput::periodic}});
    for (const auto& kv : flat)
        if (kv.first.rfind("sleep.stack.", 0) == 0)
            throw UserError("unknown key: " + kv.first + " (sleep.stack keys: normalize, drive, schedule, border; the "
                            "layers, input and connectivity are the network's own)");
    require(c.stack.drive >= 0 && std::isfinite(c.stack.drive), "sleep.stack.drive", "must be >= 0");
    require(c.plasticity.lr > 0, "sleep.plasticity.lr", "must be > 0");
}

}  // namespace

// Defaults of the simulated sleep phase inside training, where they differ
// from the simulator's (Fig. 4B) defaults; the measurements behind them are in
// the README ("Training", "The simulated sleep phase").
// - Rate: Fig. 4B's 3e-4 per step with momentum 0.95 and a 1/sqrt decay is
//   tuned for one layer of k^2 = 81 inputs over 10,000 presentations. A phase
//   of ~100 presentations over layers of up to c_in k^2 = 576 inputs needs a
//   rate per unit input power (lr_scaling fan_in: per-step gain 0.008 in
//   every layer), constant, and no momentum, whose lag makes the anti-Hebbian
//   loop overshoot in wide layers.
// - alpha: at Eq. 8's fixed point a module's mean weight shrinks each phase to
//   gamma / (gamma + lambda / (1 + alpha)) of itself (lambda ~ 1, the input
//   covariance of unit-RMS patterns): 9 % per phase at alpha = 100, which over
//   hundreds of phases erases the weights the network learned; 0.1 % at
//   alpha = 1e4. The exponential integrator is exact for any alpha.
// - stack.drive = 1 gives deep layers inputs that span their space.
// - stack.border = periodic lets border neurons see their module's pattern;
//   with zero padding they also pull every module mean down.
SimConfig default_sleep_config() {
    SimConfig s;
    s.model = ModelKind::ei_rate;
    s.dynamics.alpha = 1.0e4;
    s.dynamics.integrator = Integrator::exponential;
    s.plasticity.lr = 0.008;
    s.plasticity.gamma = 0.1;
    s.plasticity.momentum = 0.0;
    s.plasticity.schedule = ScheduleKind::constant;
    s.plasticity.delay_steps = 0;
    s.plasticity.lr_scaling = LrScaling::fan_in;
    s.stack.drive = 1.0;
    s.stack.border = BorderInput::periodic;
    return s;
}

RunConfig parse_run_config(const std::string& yaml_text,
                           const std::vector<std::pair<std::string, std::string>>& overrides) {
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        throw UserError(std::string("malformed YAML: ") + e.what());
    }
    if (!root.IsNull() && !root.IsMap()) throw UserError("the config must be a YAML mapping");
    Flat flat;
    flatten(root, "", flat);
    for (const auto& [key, value] : overrides) {
        try {
            flat[key] = YAML::Load(value);
        } catch (const YAML::Exception&) {
            throw UserError("invalid value in --set " + key + "=" + value);
        }
    }
    RunConfig cfg;
    Reader r(flat);
    read_network(r, cfg.network);
    read_data(r, cfg.data);
    read_sharing(r, cfg.sharing);
    read_train(r, cfg.train);
    read_sleep(flat, cfg.sleep);
    if (!flat.empty()) throw UserError("unknown key: " + flat.begin()->first);
    require(!(cfg.network.lc_algorithm == LcAlgorithm::cache_kernel && cfg.train.device == "cuda"), "network.lc_algorithm",
            "cache_kernel runs on the CPU only (train.device = cuda: use auto or patches_bmm)");
    return cfg;
}

RunConfig load_run_config(const std::string& path,
                          const std::vector<std::pair<std::string, std::string>>& overrides) {
    std::ifstream in(path);
    if (!in) throw UserError("cannot read config file " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_run_config(ss.str(), overrides);
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
    case SharingMode::simulated: return "simulated";
    }
    return "?";
}

std::string to_yaml(const RunConfig& c) {
    YAML::Emitter e;
    e << YAML::BeginMap;
    const auto& n = c.network;
    e << YAML::Key << "network" << YAML::Value << YAML::BeginMap
      << YAML::Key << "arch" << YAML::Value << to_string(n.arch)
      << YAML::Key << "connectivity" << YAML::Value << to_string(n.connectivity)
      << YAML::Key << "width" << YAML::Value << n.width << YAML::Key << "depth" << YAML::Value << n.depth
      << YAML::Key << "kernel" << YAML::Value << n.kernel
      << YAML::Key << "first_conv_layers" << YAML::Value << n.first_conv_layers
      << YAML::Key << "conv_1x1" << YAML::Value << n.conv_1x1
      << YAML::Key << "conv_init_eps" << YAML::Value << n.conv_init_eps
      << YAML::Key << "batch_norm" << YAML::Value << n.batch_norm
      << YAML::Key << "lc_algorithm" << YAML::Value << to_string(n.lc_algorithm) << YAML::EndMap;
    const auto& d = c.data;
    e << YAML::Key << "data" << YAML::Value << YAML::BeginMap
      << YAML::Key << "dataset" << YAML::Value << to_string(d.dataset)
      << YAML::Key << "path" << YAML::Value << d.path << YAML::Key << "canvas" << YAML::Value << d.canvas
      << YAML::Key << "padding" << YAML::Value << d.padding << YAML::Key << "flip" << YAML::Value << d.flip
      << YAML::Key << "repetitions" << YAML::Value << d.repetitions
      << YAML::Key << "validation" << YAML::Value << d.validation
      << YAML::Key << "final_test" << YAML::Value << d.final_test
      << YAML::Key << "limit_train" << YAML::Value << d.limit_train
      << YAML::Key << "limit_test" << YAML::Value << d.limit_test << YAML::EndMap;
    const auto& s = c.sharing;
    e << YAML::Key << "sharing" << YAML::Value << YAML::BeginMap
      << YAML::Key << "mode" << YAML::Value << to_string(s.mode) << YAML::Key << "every" << YAML::Value << s.every
      << YAML::Key << "presentations" << YAML::Value << s.presentations
      << YAML::Key << "lr" << YAML::Value << s.lr << YAML::Key << "gamma" << YAML::Value << s.gamma << YAML::EndMap;
    const auto& t = c.train;
    e << YAML::Key << "train" << YAML::Value << YAML::BeginMap
      << YAML::Key << "epochs" << YAML::Value << t.epochs << YAML::Key << "batch_size" << YAML::Value << t.batch_size
      << YAML::Key << "lr" << YAML::Value << t.lr << YAML::Key << "weight_decay" << YAML::Value << t.weight_decay
      << YAML::Key << "lr_decay_epochs" << YAML::Value << YAML::Flow << t.lr_decay_epochs
      << YAML::Key << "lr_decay" << YAML::Value << t.lr_decay
      << YAML::Key << "max_iterations" << YAML::Value << t.max_iterations
      << YAML::Key << "seed" << YAML::Value << t.seed << YAML::Key << "device" << YAML::Value << t.device
      << YAML::Key << "threads" << YAML::Value << t.threads
      << YAML::Key << "checkpoint_every" << YAML::Value << t.checkpoint_every
      << YAML::Key << "eval_batch_size" << YAML::Value << t.eval_batch_size
      << YAML::Key << "eval_every" << YAML::Value << t.eval_every
      << YAML::Key << "progress" << YAML::Value << t.progress << YAML::EndMap;
    // The sleep section: the simulator's own writer for dynamics, plasticity and
    // input (every key, in its format), then the three stack keys.
    const auto& sl = c.sleep;
    SimConfig engine = sl;
    engine.stack.enabled = false;
    const YAML::Node written = YAML::Load(dynshare::to_yaml(engine));
    e << YAML::Key << "sleep" << YAML::Value << YAML::BeginMap;
    for (const char* section : {"dynamics", "plasticity", "input"})
        e << YAML::Key << section << YAML::Value << written[section];
    e << YAML::Key << "stack" << YAML::Value << YAML::BeginMap
      << YAML::Key << "normalize" << YAML::Value << sl.stack.normalize
      << YAML::Key << "drive" << YAML::Value << sl.stack.drive
      << YAML::Key << "schedule" << YAML::Value << to_string(sl.stack.schedule)
      << YAML::Key << "border" << YAML::Value << to_string(sl.stack.border) << YAML::EndMap
      << YAML::EndMap;
    e << YAML::EndMap;
    return std::string(e.c_str()) + "\n";
}

}  // namespace dynshare::trainer
