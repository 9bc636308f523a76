// SPDX-License-Identifier: BSD-3-Clause
// Initial weights drawn from the seed, for every plan (include/dynshare/engine.hpp).
#include <cmath>

#include "core/first_touch.hpp"
#include "core/inputs.hpp"
#include "dynshare/engine.hpp"

namespace dynshare {

std::vector<double> stack_initial_weights(const StackLayer& layer, const LcGeometry& g, int l, RngKey key) {
    const int64_t n = g.neurons(), k = g.fan_in();
    const double sd = layer.init_std >= 0 ? layer.init_std : std::sqrt(2.0 / static_cast<double>(k));
    std::vector<double> w;
    assign_populated(w, static_cast<size_t>(n * k), 0.0);
#pragma omp parallel for schedule(static) if (n * k >= (int64_t(1) << 18))
    for (int64_t i = 0; i < n; ++i) {
        double* row = &w[i * k];
        fill_normals(key, Stream::initial_weights, static_cast<uint32_t>(i), static_cast<uint32_t>(l), row,
                     static_cast<int>(k));
        for (int64_t j = 0; j < k; ++j) row[j] = layer.init_mean + sd * row[j];
    }
    return w;
}

std::vector<std::vector<double>> initial_weights(const SimConfig& cfg, const RunPlan& plan) {
    if (plan.kind == PlanKind::single_layer) return {SingleLayerInputs(cfg).initial_weights()};
    const RngKey key = make_key(cfg.run.seed, cfg.run.stream);
    std::vector<std::vector<double>> w;
    for (int l = 0; l < plan.num_layers(); ++l)
        w.push_back(stack_initial_weights(cfg.stack.layers.at(l), plan.layers[l].g, l, key));
    return w;
}

}  // namespace dynshare
