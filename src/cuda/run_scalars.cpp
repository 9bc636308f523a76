// SPDX-License-Identifier: BSD-3-Clause
#include "cuda/run_scalars.hpp"

#include "dynshare/philox.hpp"

namespace dynshare {

cuda::RunScalars run_scalars(const SimConfig& cfg, const StepParams& sp) {
    const RngKey key = make_key(cfg.run.seed, cfg.run.stream);
    cuda::RunScalars s;
    s.key0 = key.k0;
    s.key1 = key.k1;
    s.dt = sp.dt;
    s.tau = sp.ei.tau;
    s.alpha = sp.ei.alpha;
    s.bias = sp.ei.bias;
    s.mu = sp.mu;
    s.gamma = sp.gamma;
    s.lr = sp.schedule.lr;
    s.t0 = sp.schedule.t0;
    s.sched_kind = sp.schedule.kind;
    s.plastic = sp.plastic ? 1 : 0;
    s.delay = sp.schedule.delay;
    s.macro_step = sp.macro_step;
    s.kappa_scale = sp.kappa_scale;
    s.noise_std = cfg.input.noise_std;
    return s;
}

}  // namespace dynshare
