// SPDX-License-Identifier: BSD-3-Clause
// What the CUDA backend runs, decided in one place (src/cuda/capabilities.hpp).
#include "cuda/capabilities.hpp"

#include <string>

#include "cuda/batching.hpp"
#include "cuda/device_memory.hpp"
#include "dynshare/errors.hpp"

namespace dynshare {

int layer_method_of(const SimConfig& cfg) {
    if (cfg.stack.enabled)
        throw UserError("--backend cuda: stacked layers (stack.*) are not implemented on the GPU yet; use --backend cpu");
    if (cfg.layer.neurons > cuda::max_neurons)
        throw UserError("--backend cuda: layer.neurons = " + std::to_string(cfg.layer.neurons) +
                        ": the GPU kernels take at most " + std::to_string(cuda::max_neurons) +
                        " neurons per layer (one thread each); use --backend cpu");
    const int64_t K = int64_t(cfg.layer.kernel) * cfg.layer.kernel;
    if (K > 16384)
        throw UserError("--backend cuda: layer.kernel = " + std::to_string(cfg.layer.kernel) +
                        ": at most 128 (k^2 inputs are held in shared memory); use --backend cpu");
    if (cfg.model == ModelKind::ideal) return cuda::method_ideal;
    const bool continuous = cfg.effective_form() == PlasticityForm::continuous;
    switch (cfg.dynamics.integrator) {
        case Integrator::euler:
            if (!continuous) return cuda::method_euler;
            break;
        case Integrator::rk4:
            if (!continuous) return cuda::method_rk4;
            break;
        case Integrator::exponential: return cuda::method_exponential;
        case Integrator::dopri5: break;
    }
    throw UserError(std::string("--backend cuda: dynamics.integrator = ") + to_string(cfg.dynamics.integrator) +
                    " with plasticity.form = " + to_string(cfg.effective_form()) +
                    " is not implemented on the GPU (it runs euler and rk4 with the discrete form, exponential "
                    "with the continuous form, and the ideal model); use --backend cpu");
}

int stack_method_of(const SimConfig& cfg) {
    if (cfg.model == ModelKind::ideal)
        throw UserError("--backend cuda: model = ideal with stacked layers (stack.*) is not implemented on the GPU "
                        "(it runs ei_rate stacks with dynamics.integrator euler or exponential); use --backend cpu");
    const bool continuous = cfg.effective_form() == PlasticityForm::continuous;
    if (cfg.dynamics.integrator == Integrator::euler && !continuous) return cuda::method_euler;
    if (cfg.dynamics.integrator == Integrator::exponential) return cuda::method_exponential;
    throw UserError(std::string("--backend cuda: dynamics.integrator = ") + to_string(cfg.dynamics.integrator) +
                    " with plasticity.form = " + to_string(cfg.effective_form()) +
                    " is not implemented on the GPU for stacked layers (stack.*: it runs euler with the discrete "
                    "form and exponential); use --backend cpu");
}

void check_device_config(const cuda::DeviceApi& dev, const SimConfig& cfg, const RunPlan& plan,
                         DevicePrecision precision) {
    if (plan.kind != PlanKind::stack) {
        layer_method_of(cfg);
        return;
    }
    stack_method_of(cfg);
    // The memory against what the device has free, before anything is
    // allocated (the runner's own carve, counted: src/cuda/batching.hpp).
    const size_t elem = precision == DevicePrecision::fp64 ? 8 : 4;
    const long long need = batch_device_bytes(cfg, plan, 1, precision);
    size_t free_b = 0, total_b = 0;
    cuda::device_check(dev.mem_info(&free_b, &total_b), "(stacked plan) cudaMemGetInfo");
    if (static_cast<unsigned long long>(need) > free_b)
        throw UserError("--backend cuda: the stacked config (stack.*, " + std::to_string(plan.num_layers()) +
                        " layers, " + (elem == 8 ? "fp64" : "fp32") + ") needs " + std::to_string(need) +
                        " bytes of device memory; " + std::to_string(free_b) + " bytes are available (of " +
                        std::to_string(total_b) + "); use --backend cpu, fewer or smaller layers" +
                        (elem == 8 ? ", or run.precision fp32" : ""));
}

}  // namespace dynshare
