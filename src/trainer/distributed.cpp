// SPDX-License-Identifier: BSD-3-Clause
#include "trainer/distributed.hpp"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_GLOO  // set by src/trainer/CMakeLists.txt when Gloo's headers (libgloo-dev) are found
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <glog/logging.h>  // LibTorch's logger (C10_USE_GLOG in Debian's build)

#include <chrono>
#include <cstdlib>
#include <functional>
#include <thread>

#include "dynshare/errors.hpp"

namespace dynshare::trainer {
namespace {

// A variable's value as a non-negative integer, or `fallback` when unset.
int env_int(const char* name, int fallback, bool* found = nullptr) {
    const char* v = std::getenv(name);
    if (found) *found = v != nullptr;
    if (!v) return fallback;
    const std::string s = v;
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
        throw UserError(std::string(name) + "='" + s + "': expected a non-negative integer");
    return std::stoi(s);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class SingleProcess : public Communicator {
public:
    explicit SingleProcess(const WorldInfo& w) { world_ = w; }
    void check_same_config(const std::string&) override {}
    void average_gradients(const std::vector<torch::Tensor>&, int64_t) override {}
    void sum(std::vector<double>&) override {}
    void check_identical(uint64_t, const std::string&) override {}
};

class ProcessGroupComm : public Communicator {
public:
    ProcessGroupComm(const WorldInfo& w, c10::intrusive_ptr<c10d::Store> store,
                     c10::intrusive_ptr<c10d::ProcessGroup> pg)
        : store_(std::move(store)), pg_(std::move(pg)) {
        world_ = w;
    }

    void check_same_config(const std::string& text) override {
        const std::string hash = std::to_string(std::hash<std::string>{}(text));
        collective("the config check", [&] {
            store_->set("dynshare/config/" + std::to_string(world_.rank), std::vector<uint8_t>(hash.begin(), hash.end()));
        });
        for (int r = 0; r < world_.world; ++r) {
            std::vector<uint8_t> got;  // waits up to the timeout
            collective("the config check", [&] { got = store_->get("dynshare/config/" + std::to_string(r)); });
            if (std::string(got.begin(), got.end()) != hash)
                throw UserError("rank " + std::to_string(world_.rank) + ": the resolved config differs from rank " +
                                std::to_string(r) + "'s (every rank must run the same CONFIG and --set options)");
        }
        // Nobody goes on (and creates the run folder) before every rank has
        // compared: a rank that found a difference never reaches this barrier.
        barrier();
    }

    // Runs one collective; a peer's failure becomes one clear PeerFailure.
    template <class F>
    void collective(const char* what, F&& f) {
        try {
            f();
        } catch (const std::exception& e) {
            std::string why = e.what();
            why = why.substr(0, why.find('\n'));
            throw PeerFailure("rank " + std::to_string(world_.rank) + ": " + what + " failed: a peer rank stopped or " +
                              "did not answer within " + std::to_string(dist_timeout().count() / 1000) +
                              " s (DYNSHARE_DIST_TIMEOUT): " + why);
        }
    }

    void average_gradients(const std::vector<torch::Tensor>& params, int64_t bucket_bytes) override {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<torch::Tensor> grads;
        for (const auto& p : params)
            if (p.grad().defined()) grads.push_back(p.grad());
        size_t i = 0;
        while (i < grads.size()) {
            std::vector<torch::Tensor> bucket;
            int64_t bytes = 0;
            while (i < grads.size() && (bucket.empty() || bytes + int64_t(grads[i].nbytes()) <= bucket_bytes)) {
                bytes += int64_t(grads[i].nbytes());
                bucket.push_back(grads[i++]);
            }
            std::vector<torch::Tensor> flat = {torch::cat(flatten(bucket))};
            collective("the gradient all-reduce", [&] { pg_->allreduce(flat)->wait(); });
            flat[0].div_(double(world_.world));
            int64_t off = 0;
            for (auto& g : bucket) {
                const int64_t n = g.numel();
                g.copy_(flat[0].slice(0, off, off + n).view_as(g));
                off += n;
            }
        }
        comm_seconds_ += seconds_since(t0);
    }

    void sum(std::vector<double>& values) override {
        if (values.empty()) return;
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<torch::Tensor> t = {torch::tensor(values, torch::kFloat64)};
        collective("a sum over the ranks", [&] { pg_->allreduce(t)->wait(); });
        auto acc = t[0].accessor<double, 1>();
        for (size_t i = 0; i < values.size(); ++i) values[i] = acc[int64_t(i)];
        comm_seconds_ += seconds_since(t0);
    }

    void check_identical(uint64_t value, const std::string& what) override {
        const std::string key = "dynshare/check/" + std::to_string(checks_++) + "/";
        const std::string mine = std::to_string(value);
        std::vector<uint8_t> first, got;
        collective("the weight check", [&] {
            store_->set(key + std::to_string(world_.rank), std::vector<uint8_t>(mine.begin(), mine.end()));
            first = store_->get(key + "0");
        });
        for (int r = 1; r < world_.world; ++r) {
            collective("the weight check", [&] { got = store_->get(key + std::to_string(r)); });
            if (got != first)
                throw std::runtime_error("data-parallel ranks diverged: rank " + std::to_string(r) + "'s " + what +
                                         " differ from rank 0's");
        }
    }

private:
    int64_t checks_ = 0;
    static std::vector<torch::Tensor> flatten(const std::vector<torch::Tensor>& ts) {
        std::vector<torch::Tensor> out;
        for (const auto& t : ts) out.push_back(t.reshape({-1}));
        return out;
    }
    void barrier() {
        std::vector<torch::Tensor> t = {torch::zeros({1})};
        collective("the start-up barrier", [&] { pg_->allreduce(t)->wait(); });
    }
    c10::intrusive_ptr<c10d::Store> store_;
    c10::intrusive_ptr<c10d::ProcessGroup> pg_;
};

}  // namespace

WorldInfo world_from_env() {
    WorldInfo w;
    bool has_rank = false, has_world = false;
    if (std::getenv("RANK") || std::getenv("WORLD_SIZE")) {
        w.rank = env_int("RANK", 0, &has_rank);
        w.world = env_int("WORLD_SIZE", 1, &has_world);
        w.local_rank = env_int("LOCAL_RANK", w.rank);
        w.local_world = env_int("LOCAL_WORLD_SIZE", 1);
        w.launcher = "torchrun";
        if (!has_rank || !has_world) throw UserError("RANK and WORLD_SIZE must be set together (as torchrun does)");
    } else if (std::getenv("SLURM_PROCID") && std::getenv("SLURM_NTASKS")) {
        w.rank = env_int("SLURM_PROCID", 0);
        w.world = env_int("SLURM_NTASKS", 1);
        w.local_rank = env_int("SLURM_LOCALID", 0);
        w.local_world = env_int("SLURM_NTASKS_PER_NODE", 1);
        w.launcher = "srun";
    } else {
        return w;
    }
    const std::string rank_var = w.launcher == "srun" ? "SLURM_PROCID" : "RANK";
    const std::string world_var = w.launcher == "srun" ? "SLURM_NTASKS" : "WORLD_SIZE";
    if (w.world < 1) throw UserError(world_var + "=0: the world size must be at least 1");
    if (w.rank >= w.world)
        throw UserError(rank_var + "=" + std::to_string(w.rank) + " is not below " + world_var + "=" +
                        std::to_string(w.world) + " (ranks are 0 .. world size - 1)");
    if (!w.distributed()) return w;
    const char* addr = std::getenv("MASTER_ADDR");
    if (!addr || !*addr)
        throw UserError("MASTER_ADDR is not set: a run of " + std::to_string(w.world) +
                        " processes needs the address of rank 0 (torchrun sets it; export it in an srun job script)");
    w.master_addr = addr;
    bool has_port = false;
    w.master_port = env_int("MASTER_PORT", 0, &has_port);
    if (!has_port || w.master_port < 1 || w.master_port > 65535)
        throw UserError("MASTER_PORT must be set to a port in 1 .. 65535 for a run of " + std::to_string(w.world) +
                        " processes");
    return w;
}

std::chrono::milliseconds dist_timeout() {
    return std::chrono::milliseconds(int64_t(env_int("DYNSHARE_DIST_TIMEOUT", 60)) * 1000);
}

std::vector<int64_t> rank_slice(int64_t global_batch, int rank, int world) {
    std::vector<int64_t> out;
    for (int64_t i = rank; i < global_batch; i += world) out.push_back(i);
    return out;
}

std::unique_ptr<Communicator> Communicator::connect(const WorldInfo& w, const torch::Device& device) {
    if (!w.distributed()) return std::make_unique<SingleProcess>(w);
    const auto timeout = dist_timeout();
    c10::intrusive_ptr<c10d::Store> store;
    // c10d logs each failed connection attempt on stderr; the failure is
    // reported once, below, as one line.
    struct QuietLog {
        int saved = FLAGS_minloglevel;
        QuietLog() { FLAGS_minloglevel = google::GLOG_FATAL; }
        ~QuietLog() { FLAGS_minloglevel = saved; }
    } quiet;
    try {
        c10d::TCPStoreOptions o;
        o.port = static_cast<uint16_t>(w.master_port);
        o.isServer = w.rank == 0;
        o.numWorkers = static_cast<size_t>(w.world);
        o.waitWorkers = true;
        o.timeout = timeout;
        store = c10::make_intrusive<c10d::TCPStore>(w.master_addr, o);
        // Every rank checks in, and all wait (together at most the one
        // timeout) until the whole world has: a lone rank fails here, in one
        // line, instead of again in the process group's own wait.
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        store->add("dynshare/joined", 1);
        int64_t joined = 0;
        while ((joined = store->add("dynshare/joined", 0)) < w.world) {
            if (std::chrono::steady_clock::now() > deadline)
                throw UserError("rank " + std::to_string(w.rank) + ": only " + std::to_string(joined) + " of " +
                                std::to_string(w.world) + " processes joined the group at MASTER_ADDR=" +
                                w.master_addr + " MASTER_PORT=" + std::to_string(w.master_port) + " within " +
                                std::to_string(timeout.count() / 1000) + " s (DYNSHARE_DIST_TIMEOUT)");
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    } catch (const UserError&) {
        throw;
    } catch (const std::exception& e) {
        std::string what = e.what();
        what = what.substr(0, what.find('\n'));
        throw UserError("rank " + std::to_string(w.rank) + ": the process group at MASTER_ADDR=" + w.master_addr +
                        " MASTER_PORT=" + std::to_string(w.master_port) + " did not form within " +
                        std::to_string(timeout.count() / 1000) + " s (DYNSHARE_DIST_TIMEOUT): " + what);
    }
    if (device.is_cuda()) {
#ifdef USE_C10D_NCCL
        auto opts = c10d::ProcessGroupNCCL::Options::create();
        opts->timeout = timeout;
        auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, w.rank, w.world, opts);
        return std::make_unique<ProcessGroupComm>(w, store, pg);
#else
        throw UserError("train.device cuda with " + std::to_string(w.world) +
                        " processes: this LibTorch was built without NCCL (c10d ProcessGroupNCCL)");
#endif
    }
#ifndef USE_C10D_GLOO
    throw UserError("a run of " + std::to_string(w.world) +
                    " processes: this build has no Gloo process group (install libgloo-dev and rebuild)");
#else
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (w.master_addr == "127.0.0.1" || w.master_addr == "localhost")
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, w.rank, w.world, opts);
    return std::make_unique<ProcessGroupComm>(w, store, pg);
#endif
}

}  // namespace dynshare::trainer
