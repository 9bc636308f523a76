#include "trainer/checkpoint.hpp"

#include <cstdio>

#include "dynshare/errors.hpp"

namespace dynshare::trainer {

void save_checkpoint(const std::string& path, Net& net, torch::optim::Optimizer& opt, const TrainState& state) {
    torch::serialize::OutputArchive archive, model, optim, metrics;
    net->save(model);
    opt.save(optim);
    for (const auto& [name, t] : state.metrics.to_tensors()) metrics.write(name, t);
    archive.write("model", model);
    archive.write("optimizer", optim);
    archive.write("metrics", metrics);
    archive.write("network", c10::IValue(net->signature()));
    archive.write("epochs_done", c10::IValue(int64_t(state.epochs_done)));
    archive.write("iteration", c10::IValue(state.iteration));
    archive.write("sharing_phases", c10::IValue(state.sharing_phases));
    archive.write("epoch_batches", c10::IValue(state.epoch_batches));
    archive.write("epoch_sums", torch::tensor({state.epoch_loss, state.epoch_correct, state.epoch_seen,
                                              state.epoch_seconds}, torch::kDouble));
    archive.write("epoch_rng", c10::IValue(state.epoch_rng));
    const std::string tmp = path + ".tmp";
    archive.save_to(tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp + " to " + path);
}

TrainState load_checkpoint(const std::string& path, Net& net, torch::optim::Optimizer& opt,
                           const torch::Device& device) {
    torch::serialize::InputArchive archive, model, optim, metrics;
    try {
        archive.load_from(path, device);
    } catch (const c10::Error& e) {
        throw UserError("cannot read checkpoint " + path);
    }
    c10::IValue v;
    archive.read("network", v);
    if (v.toStringRef() != net->signature())
        throw UserError("checkpoint " + path + " is for a different architecture (" + v.toStringRef() +
                        "; this run: " + net->signature() + ")");
    archive.read("model", model);
    archive.read("optimizer", optim);
    archive.read("metrics", metrics);
    net->load(model);
    opt.load(optim);
    TrainState s;
    std::vector<std::pair<std::string, torch::Tensor>> named;
    for (const auto& [name, t] : Metrics{}.to_tensors()) {
        torch::Tensor value;
        if (metrics.try_read(name, value)) named.emplace_back(name, value.cpu());
    }
    s.metrics.from_tensors(named);
    archive.read("epochs_done", v);
    s.epochs_done = int(v.toInt());
    archive.read("iteration", v);
    s.iteration = v.toInt();
    archive.read("sharing_phases", v);
    s.sharing_phases = v.toInt();
    // Checkpoints of epoch boundaries written before mid-epoch stops existed lack these.
    if (archive.try_read("epoch_batches", v)) {
        s.epoch_batches = v.toInt();
        torch::Tensor sums;
        archive.read("epoch_sums", sums);
        sums = sums.to(torch::kCPU, torch::kDouble).contiguous();
        s.epoch_loss = sums[0].item<double>();
        s.epoch_correct = sums[1].item<double>();
        s.epoch_seen = sums[2].item<double>();
        s.epoch_seconds = sums[3].item<double>();
        archive.read("epoch_rng", v);
        s.epoch_rng = v.toStringRef();
    }
    return s;
}

}  // namespace dynshare::trainer
