// SPDX-License-Identifier: BSD-3-Clause
// A run's RunScalars (kernels.hpp) as the models/ rules' own parameters, for
// the kernels of both .cu files: the learning-rate schedule and the
// exponential sub-step rule (kappa_gate, models/exp_substep.hpp), as the
// CPU's StepParams gives them. Device code only (the host side keeps
// kernels.hpp free of models/).
#pragma once
#include "cuda/kernels.hpp"
#include "dynshare/hostdevice.hpp"
#include "models/exp_substep.hpp"
#include "models/lr_schedule.hpp"

namespace dynshare {
namespace cuda {

DS_HD LrSchedule schedule_of(const RunScalars& P) { return LrSchedule{P.lr, P.sched_kind, P.t0, P.delay}; }
DS_HD ExpSubstepRule exp_rule_of(const RunScalars& P) {
    ExpSubstepRule r;
    r.ei = EiRateParams{P.tau, P.alpha, P.bias};
    r.gamma = P.gamma;
    r.dt = P.dt;
    r.macro_step = P.macro_step;
    r.schedule = schedule_of(P);
    r.kappa_scale = P.kappa_scale;
    r.plastic = P.plastic != 0;
    return r;
}

}  // namespace cuda
}  // namespace dynshare
