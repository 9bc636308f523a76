// SPDX-License-Identifier: BSD-3-Clause
#include "core/reference_euler.hpp"

#include "core/inputs.hpp"
#include "core/step_params.hpp"
#include "dynshare/snr.hpp"

namespace dynshare {

ReferenceResult reference_euler_run(const SimConfig& cfg) {
    const StepParams sp = StepParams::from(cfg);
    const SingleLayerInputs inputs(cfg);
    const int64_t n = cfg.layer.neurons, k = int64_t(cfg.layer.kernel) * cfg.layer.kernel;
    ReferenceResult out;
    std::vector<double> w = inputs.initial_weights(), w0 = w, v(n * k, 0.0), r(n, sp.ei.bias), z(n);
    double r_inh = 0.0;
    const double h = sp.dt / sp.ei.tau, b = sp.ei.bias;
    std::vector<double> x;
    int64_t s = 0;
    for (int64_t p = 0; p < cfg.run.presentations; ++p) {
        const int64_t stride = inputs.fill(p, x);
        for (int64_t j = 0; j < sp.steps; ++j) {
            const double eta = sp.schedule(s);
            for (int64_t i = 0; i < n; ++i) {
                z[i] = 0.0;
                for (int64_t c = 0; c < k; ++c) z[i] += w[i * k + c] * x[i * stride + c];
            }
            double mean_z = 0.0, mean_r = 0.0;
            for (int64_t i = 0; i < n; ++i) {
                mean_z += z[i];
                mean_r += r[i];
            }
            mean_z /= static_cast<double>(n);
            mean_r /= static_cast<double>(n);
            if (eta > 0.0) {
                for (int64_t i = 0; i < n; ++i) {
                    // Eq. 8's anti-Hebbian term uses r_i - b; Eq. 4 uses z_i - mean z.
                    const double post = cfg.model == ModelKind::ideal ? z[i] - mean_z : r[i] - b;
                    for (int64_t c = 0; c < k; ++c) {
                        const int64_t ic = i * k + c;
                        v[ic] = sp.mu * v[ic] + (post * x[i * stride + c] + sp.gamma * (w[ic] - w0[ic]));
                        w[ic] -= eta * v[ic];
                    }
                }
            }
            if (cfg.model == ModelKind::ei_rate) {
                for (int64_t i = 0; i < n; ++i) r[i] = r[i] + h * (-r[i] + z[i] - sp.ei.alpha * r_inh + b);
                r_inh = r_inh + h * (-r_inh + mean_r - b);
            }
            ++s;
            if (s % cfg.run.record_every == 0) out.neg_log_snr.push_back(neg_log_snr(w.data(), n, k));
        }
    }
    out.w = w;
    out.v = v;
    out.r = r;
    out.r_inh = {r_inh};
    return out;
}

}  // namespace dynshare
