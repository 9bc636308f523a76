// SPDX-License-Identifier: BSD-3-Clause
#include "trainer/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <functional>

#include "dynshare/errors.hpp"
#include "io/io_error.hpp"

namespace dynshare::trainer {

namespace {
// Writes the archive to PATH.tmp and renames it over PATH. Any failure
// (ENOSPC, EIO) removes PATH.tmp and throws an IoError naming PATH, which is
// then as it was: a run folder never holds only checkpoint.pt.tmp. The bytes
// go straight to the file (no copy in memory: a checkpoint can be as large
// as the model); a failed write is remembered and reported after save_to
// returns, since LibTorch's writer cannot fail cleanly (it finishes the file
// in a destructor, where a throw aborts the process).
void save_replacing(torch::serialize::OutputArchive& archive, const std::string& path) {
    const std::string tmp = path + ".tmp";
    const auto fail = [&](int err) {
        ::unlink(tmp.c_str());
        throw IoError(path, err);
    };
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(errno);
    int err = 0;
    archive.save_to([&](const void* data, size_t n) -> size_t {
        size_t done = 0;
        while (err == 0 && done < n) {
            const ssize_t w = ::write(fd, static_cast<const char*>(data) + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) err = w < 0 ? errno : EIO;
            else done += size_t(w);
        }
        return n;  // the error is reported below
    });
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err != 0) fail(err);
    if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(errno);
}
}  // namespace

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
    archive.write("config", c10::IValue(state.config_yaml));
    save_replacing(archive, path);
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
    // Counters: ints within the run's bounds, or the file is not a checkpoint
    // this trainer wrote (an edited or damaged one): a UserError, not a crash.
    const auto counter = [&](const char* name) -> int64_t {
        c10::IValue c;
        if (!archive.try_read(name, c) || !c.isInt())
            throw UserError("checkpoint " + path + ": '" + name + "' is missing or not an integer");
        if (c.toInt() < 0) throw UserError("checkpoint " + path + ": '" + name + "' is negative");
        return c.toInt();
    };
    s.epochs_done = int(counter("epochs_done"));
    s.iteration = counter("iteration");
    s.sharing_phases = counter("sharing_phases");
    if (archive.try_read("config", v) && v.isString()) s.config_yaml = v.toStringRef();
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
