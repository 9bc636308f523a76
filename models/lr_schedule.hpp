// Learning-rate schedule of the plasticity: eta(s) for global step s (an
// integration step for ei_rate, an iteration for ideal). Fig. 4A uses
// 0.5/(1000 + t); Fig. 4B 3e-4/sqrt(1 + t/2) after a 50-step delay.
#pragma once
#include <cmath>
#include <cstdint>

#include "dynshare/hostdevice.hpp"

namespace dynshare {

struct LrSchedule {
    double lr = 0.0;
    int kind = 0;            // 0 constant, 1 inv: lr/(t0+t), 2 inv_sqrt: lr/sqrt(1+t/t0)
    double t0 = 1.0;
    int64_t delay = 0;       // eta = 0 for s < delay; t = s - delay afterwards

    DS_HD double operator()(int64_t s) const {
        if (s < delay || lr == 0.0) return 0.0;
        const double t = static_cast<double>(s - delay);
        switch (kind) {
            case 1: return lr / (t0 + t);
            case 2: return lr / std::sqrt(1.0 + t / t0);
            default: return lr;
        }
    }
};

}  // namespace dynshare
