// SPDX-License-Identifier: BSD-3-Clause
// The CUDA backend: the Backend adapter over the runners. Single-layer plans
// go to run_layer_batch (src/cuda/layer_runner.cpp, GroupRunner), stacked
// plans to StackRunner (src/cuda/stack_runner.cpp); run_batch cuts the runs
// into batches by src/cuda/batching.hpp (one key, one memory budget). The device is a cuda::DeviceApi (src/cuda/kernels.hpp):
// cuda::device::api() is the GPU (nvcc build of src/cuda/*.cu),
// cuda::emulated::api() the same kernel sources on the emulator
// (src/cuda/emulation/). This file includes no CUDA header.
#include "cuda/cuda_backend.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/batching.hpp"
#include "cuda/capabilities.hpp"
#include "cuda/kernels.hpp"
#include "cuda/layer_runner.hpp"
#include "cuda/stack_runner.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/errors.hpp"

namespace dynshare {

DevicePrecision device_precision(const SimConfig& c, DevicePrecision fallback) {
    if (c.run.precision == Precision::fp64) return DevicePrecision::fp64;
    if (c.run.precision == Precision::fp32) return DevicePrecision::fp32;
    return fallback;
}

DevicePrecision cuda_precision_from_env() {
    const char* e = std::getenv("DYNSHARE_CUDA_PRECISION");
    if (!e || !*e || std::string(e) == "fp32") return DevicePrecision::fp32;
    if (std::string(e) == "fp64") return DevicePrecision::fp64;
    throw UserError(std::string("DYNSHARE_CUDA_PRECISION = ") + e + ": allowed values are fp32 and fp64");
}

namespace {

class CudaBackend final : public Backend {
public:
    CudaBackend(const cuda::DeviceApi& dev, DevicePrecision p) : dev_(dev), precision_(p) {}
    std::string name() const override { return dev_.name; }

    void check(const SimConfig& cfg, const RunPlan& plan) const override {
        check_device_config(dev_, cfg, plan, precision_of(cfg));  // src/cuda/capabilities.hpp
    }

    RunResult run(const SimConfig& cfg, const RunPlan& plan, const std::vector<std::vector<double>>& initial,
                  RunObserver& observer, const RunState* resume) override {
        check(cfg, plan);
        if (plan.kind == PlanKind::stack)
            return run_stack_on_device(dev_, precision_of(cfg) == DevicePrecision::fp64, cfg, plan, initial, observer,
                                       resume);
        if (initial.size() > 1) throw UserError("--backend cuda: a single-layer plan takes one weight vector");
        RunResult result;
        run_layer_batch(dev_, {LayerJob{&cfg, &observer, resume, initial.empty() ? nullptr : &initial[0], &result}},
                        BatchOptions{}, precision_of(cfg));
        return result;
    }

    bool runs_resident() const override { return true; }

    RunResult run_resident(const SimConfig& cfg, const RunPlan& plan, const ResidentWeights& weights,
                           RunObserver& observer) override {
        if (plan.kind != PlanKind::stack)
            throw std::invalid_argument("run_resident: resident weights are for stacked plans");
        check(cfg, plan);
        return run_stack_resident(dev_, precision_of(cfg) == DevicePrecision::fp64, cfg, plan, weights, observer);
    }

    std::vector<RunResult> run_batch(const std::vector<SimConfig>& cfgs, const std::vector<RunObserver*>& observers,
                                     const BatchOptions& options) override {
        if (observers.size() != cfgs.size())
            throw std::invalid_argument("run_batch: one observer per config is needed");
        // Every run's plan, built and checked once, before any run starts.
        std::vector<RunPlan> plans;
        std::vector<DevicePrecision> precisions;
        plans.reserve(cfgs.size());
        for (const SimConfig& c : cfgs) {
            plans.push_back(make_plan(c));
            check(c, plans.back());
            precisions.push_back(precision_of(c));
        }
        // Runs of one batch key together, in slices that fit the memory
        // budget (src/cuda/batching.hpp); each slice goes to its runner.
        std::vector<RunResult> results(cfgs.size());
        for (const std::vector<size_t>& slice : batch_slices(dev_, cfgs, plans, precisions)) {
            const size_t first = slice.front();
            if (plans[first].kind == PlanKind::stack) {
                std::vector<const SimConfig*> members;
                std::vector<RunObserver*> obs;
                for (size_t i : slice) {
                    members.push_back(&cfgs[i]);
                    obs.push_back(observers[i]);
                }
                std::vector<RunResult> rs = run_stack_batch_on_device(
                    dev_, precisions[first] == DevicePrecision::fp64, members, plans[first], obs, options);
                for (size_t j = 0; j < rs.size(); ++j) results[slice[j]] = std::move(rs[j]);
                continue;
            }
            std::vector<LayerJob> jobs;
            for (size_t i : slice) jobs.push_back(LayerJob{&cfgs[i], observers[i], nullptr, nullptr, &results[i]});
            run_layer_batch(dev_, jobs, options, precisions[first]);
        }
        return results;
    }

private:
    DevicePrecision precision_of(const SimConfig& c) const { return device_precision(c, precision_); }

    const cuda::DeviceApi& dev_;
    DevicePrecision precision_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend_on(const cuda::DeviceApi& device, DevicePrecision precision) {
    return std::make_unique<CudaBackend>(device, precision);
}

#if defined(DYNSHARE_HAVE_CUDA)
// The GPU (nvcc build of the kernels); without nvcc, src/backends/cuda_unavailable.cpp.

bool cuda_usable(std::string* why) {
    const char* e = cuda::device::api().usable();
    if (e && why) *why = e;
    return e == nullptr;
}

std::unique_ptr<Backend> make_cuda_backend(DevicePrecision precision) {
    return make_cuda_backend_on(cuda::device::api(), precision);
}

std::unique_ptr<Backend> make_cuda_backend() { return make_cuda_backend(cuda_precision_from_env()); }
#endif

}  // namespace dynshare
