// SPDX-License-Identifier: BSD-3-Clause
// The only file that calls the engine: the simulated sleep phase (Eq. 8 over
// stacked LC layers, include/dynshare/sleep_phase.hpp) on the network's own
// LC weights, through the Backend interface. Weights on the host go through
// the CPU engine as doubles; weights on a CUDA device stay there: the CUDA
// backend reads and overwrites the tensors' storage (Backend::run_resident).
#include "trainer/sharing.hpp"

#include "app/heap_policy.hpp"

#include "dynshare/backend.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/plan.hpp"
#include "dynshare/sleep_phase.hpp"
#include "io/schema.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>

#include <torch/cuda.h>
#if __has_include(<c10/cuda/CUDAGuard.h>) && __has_include(<c10/cuda/impl/cuda_cmake_macros.h>)  // a LibTorch with CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#define DYNSHARE_HAVE_C10_CUDA 1
#endif

namespace dynshare::trainer {

namespace {

// The engine's view of the chain (include/dynshare/sleep_phase.hpp: the one
// function that builds it, shared with the Python package's sleep_phase).
SimConfig engine_config(const RunConfig& cfg, const std::vector<LcGeometry>& geo, uint64_t phase) {
    return sleep_phase_config(cfg.sleep, geo, phase_presentations(cfg.sharing, geo), cfg.train.seed, phase);
}

// The host path: the weights converted to the engine's doubles and back.
void sleep_through_host(const SimConfig& sim, const std::vector<LcGeometry>& geo,
                        const std::vector<LocallyConnected2dImpl*>& layers, uint64_t phase, Backend& backend) {
    // Every phase allocates the same buffers: the last phase's pages serve.
    const app::LargeBlocksFromHeap reuse_pages;
    std::vector<std::vector<double>> weights;
    for (const auto* layer : layers) {
        // One pass: converted straight into the engine's vector.
        weights.emplace_back(size_t(layer->weight.numel()));
        torch::from_blob(weights.back().data(), layer->weight.sizes(), torch::kDouble).copy_(layer->weight.detach());
    }
    run_sleep_phase(sim, geo, weights, phase, backend);
    for (size_t n = 0; n < layers.size(); ++n)  // copy_ converts (and moves to the device) in one pass
        layers[n]->weight.copy_(torch::from_blob(weights[n].data(), layers[n]->weight.sizes(), torch::kDouble));
}

// The resident path: the backend reads and overwrites the tensors' own
// storage where it lives (a CUDA device). A tensor that is not contiguous
// float32 goes through a contiguous float copy on the same device.
void sleep_resident(const SimConfig& sim, const std::vector<LcGeometry>& geo,
                    const std::vector<LocallyConnected2dImpl*>& layers, uint64_t phase, Backend& backend) {
    ResidentWeights rw;
    std::vector<torch::Tensor> storage;
    const torch::Device device = layers.front()->weight.device();
    for (auto* layer : layers) {
        torch::Tensor w = layer->weight.detach();
        if (w.device() != device)
            throw std::invalid_argument("sleep phase: the LC layers' weights are on different devices");
        if (!w.is_contiguous() || w.scalar_type() != torch::kFloat) w = w.to(torch::kFloat).contiguous();
        rw.layers.push_back(w.data_ptr<float>());
        storage.push_back(w);
    }
    // The backend's kernels run on the legacy default stream; torch's queued
    // work on these tensors must be done first.
    if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? -1 : device.index());
    run_sleep_phase(sim, geo, rw, phase, backend);
    for (size_t n = 0; n < layers.size(); ++n)
        if (storage[n].data_ptr() != layers[n]->weight.data_ptr()) layers[n]->weight.copy_(storage[n]);
}

// One line on stderr the first time each distinct reason is given.
void notice_once(const std::string& text) {
    static std::vector<std::string> said;
    if (std::find(said.begin(), said.end(), text) != said.end()) return;
    said.push_back(text);
    std::fprintf(stderr, "notice: %s\n", text.c_str());
}

}  // namespace

Backend& sleep_backend(const torch::Device& weights_device, std::string* notice) {
    static const std::unique_ptr<Backend> cpu = make_cpu_backend();
    if (!weights_device.is_cuda()) return *cpu;
    // Weights on a CUDA device: the CUDA backend takes their storage as it is
    // (run.precision auto: the device's fp32). Asked once per process, on the
    // current device (the caller makes it the weights').
    static std::string why;
    static const bool usable = cuda_usable(&why);
    if (!usable) {
        if (notice)
            *notice = "the simulated sleep phase runs on the CPU engine: dynshare's CUDA backend cannot run here (" +
                      why + "); the LC weights go to the host and back in every phase";
        return *cpu;
    }
    static const std::unique_ptr<Backend> cuda = make_cuda_backend(DevicePrecision::fp32);
    return *cuda;
}

Backend& phase_backend(const RunConfig& cfg, const std::vector<LcGeometry>& geometry, Backend& preferred,
                       std::string* notice) {
    const SimConfig sim = engine_config(cfg, geometry, 0);
    try {
        check_sleep_phase(sim, geometry, preferred);
        return preferred;
    } catch (const UserError&) {
    }
#ifdef DYNSHARE_HAVE_C10_CUDA
    c10::cuda::CUDACachingAllocator::emptyCache();  // torch's cached blocks count as used
#endif
    try {
        check_sleep_phase(sim, geometry, preferred);
        return preferred;
    } catch (const UserError& e) {
        if (notice) *notice = std::string("this sleep phase runs on the CPU engine: ") + e.what();
    }
    return sleep_backend(torch::Device(torch::kCPU));
}

void run_simulated_sleep(const RunConfig& cfg, Net& net, const std::vector<size_t>& chain, uint64_t phase) {
    if (chain.empty()) return;
    const torch::Device device = net->lc_layers()[chain.front()].layer->weight.device();
#ifdef DYNSHARE_HAVE_C10_CUDA
    // The CUDA backend allocates and launches on the current device: make it
    // the weights' (one GPU per rank in data-parallel runs).
    std::optional<c10::cuda::CUDAGuard> on_device;
    if (device.is_cuda()) on_device.emplace(device);
    const bool device_current = true;
#else
    const bool device_current = !device.is_cuda() || device.index() <= 0;
#endif
    std::string notice;
    Backend* backend = &sleep_backend(device_current ? device : torch::Device(torch::kCPU), &notice);
    if (!device_current)
        notice = "the simulated sleep phase runs on the CPU engine: this LibTorch has no c10/cuda headers to make "
                 "the weights' device " + device.str() + " current";
    if (backend->runs_resident()) {
        std::vector<LcGeometry> geo;
        for (size_t i : chain) geo.push_back(net->lc_layers()[i].layer->geometry());
        backend = &phase_backend(cfg, geo, *backend, &notice);
    }
    if (!notice.empty()) notice_once(notice);
    run_simulated_sleep(cfg, net, chain, phase, *backend);
}

void run_simulated_sleep(const RunConfig& cfg, Net& net, const std::vector<size_t>& chain, uint64_t phase,
                         Backend& backend) {
    if (chain.empty()) return;
    torch::NoGradGuard no_grad;
    const auto& lc = net->lc_layers();
    std::vector<LcGeometry> geo;
    std::vector<LocallyConnected2dImpl*> layers;
    for (size_t i : chain) {
        layers.push_back(lc[i].layer.ptr().get());
        geo.push_back(layers.back()->geometry());
    }
    const SimConfig sim = engine_config(cfg, geo, phase);
    if (backend.runs_resident()) sleep_resident(sim, geo, layers, phase, backend);
    else sleep_through_host(sim, geo, layers, phase, backend);
}

std::vector<int64_t> layer_presentations(const SharingConfig& s, const std::vector<LcGeometry>& chain) {
    std::vector<int64_t> n;
    for (const auto& g : chain) {
        if (s.presentations_per_fan_in <= 0) n.push_back(s.presentations);
        else n.push_back(int64_t(std::ceil(s.presentations_per_fan_in * double(g.fan_in()) - 1e-9)));
    }
    return n;
}

int64_t phase_presentations(const SharingConfig& s, const std::vector<LcGeometry>& chain) {
    const std::vector<int64_t> n = layer_presentations(s, chain);
    if (n.empty()) return s.presentations;
    const auto most = std::max_element(n.begin(), n.end());
    if (s.presentations_per_fan_in > 0 && *most > kMaxSleepPresentations) {
        const auto& g = chain[size_t(most - n.begin())];
        char allowed[32];
        std::snprintf(allowed, sizeof allowed, "%.1f", std::floor(10.0 * double(kMaxSleepPresentations) / g.fan_in()) / 10.0);
        throw UserError("sharing.presentations_per_fan_in = " + schema::format_double(s.presentations_per_fan_in) + ": LC layer " +
                        std::to_string(most - n.begin()) + " (fan-in " + std::to_string(g.fan_in()) + ") would get " +
                        std::to_string(*most) + " presentations per sleep phase, above the cap of " +
                        std::to_string(kMaxSleepPresentations) + "; allowed on this network: [0, " + allowed + "]");
    }
    return *most;
}

long long sleep_memory_bytes(const RunConfig& cfg, const std::vector<LcGeometry>& chain) {
    if (chain.empty()) return 0;
    const SimConfig sim = engine_config(cfg, chain, 0);
    // The phase's observer wants no states (run_sleep_phase), and the initial
    // weights the engine counts are this file's `weights` vectors.
    return run_memory_bytes(sim, make_stack_plan(sim.stack, chain), false);
}

}  // namespace dynshare::trainer
