// The only file that calls the engine: the simulated sleep phase (Eq. 8 over
// stacked LC layers, include/dynshare/sleep_phase.hpp) on the network's own
// LC weights, through the Backend interface (the CPU engine today; the CUDA
// backend the day it runs stacked plans).
#include "trainer/sharing.hpp"

#include "dynshare/backend.hpp"
#include "dynshare/engine.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/plan.hpp"
#include "dynshare/sleep_phase.hpp"

namespace dynshare::trainer {

namespace {

// The engine's view of the chain: input shape and one StackLayer per layer.
SimConfig engine_config(const RunConfig& cfg, const std::vector<LcGeometry>& geo, uint64_t phase) {
    SimConfig sim = cfg.sleep;
    sim.model = ModelKind::ei_rate;
    sim.run.presentations = cfg.sharing.presentations;
    sim.run.seed = cfg.train.seed;
    sim.run.stream = phase;
    sim.stack.enabled = true;
    sim.stack.connectivity = Connectivity::grid;
    sim.stack.input = StackInput{geo.front().c_in, geo.front().h_in, geo.front().w_in};
    sim.stack.layers.clear();
    for (const auto& g : geo) {
        StackLayer l;
        l.channels = g.c_out;
        l.kernel = g.k;
        l.stride = g.stride;
        l.padding = g.padding;
        l.nonlinearity = Nonlinearity::relu;
        sim.stack.layers.push_back(l);
    }
    return sim;
}

}  // namespace

void run_simulated_sleep(const RunConfig& cfg, Net& net, const std::vector<size_t>& chain, uint64_t phase) {
    if (chain.empty()) return;
    torch::NoGradGuard no_grad;
    const auto& lc = net->lc_layers();
    std::vector<LcGeometry> geo;
    std::vector<std::vector<double>> weights;
    for (size_t i : chain) {
        const auto& layer = *lc[i].layer;
        geo.push_back(layer.geometry());
        // One pass: converted straight into the engine's vector.
        weights.emplace_back(size_t(layer.weight.numel()));
        torch::from_blob(weights.back().data(), layer.weight.sizes(), torch::kDouble).copy_(layer.weight.detach());
    }
    // The sleep phase runs where its backend can run stacked plans: today the
    // CPU engine (the CUDA backend refuses stacks until it has their kernels).
    static const std::unique_ptr<Backend> backend = make_cpu_backend();
    run_sleep_phase(engine_config(cfg, geo, phase), geo, weights, phase, *backend);
    for (size_t n = 0; n < chain.size(); ++n) {
        auto& layer = *lc[chain[n]].layer.ptr();
        // copy_ converts (and moves to the device) in one pass.
        layer.weight.copy_(torch::from_blob(weights[n].data(), layer.weight.sizes(), torch::kDouble));
    }
}

long long sleep_memory_bytes(const RunConfig& cfg, const std::vector<LcGeometry>& chain) {
    if (chain.empty()) return 0;
    const SimConfig sim = engine_config(cfg, chain, 0);
    // The phase's observer wants no states (run_sleep_phase), and the initial
    // weights the engine counts are this file's `weights` vectors.
    return run_memory_bytes(sim, make_stack_plan(sim.stack, chain), false);
}

}  // namespace dynshare::trainer
