// SPDX-License-Identifier: BSD-3-Clause
// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
// Every draw is a pure function of (key, counter), so any presentation of any
// run can be regenerated alone, by any thread, on the CPU or on the GPU.
#pragma once
#include <cmath>
#include <cstdint>

#include "dynshare/hostdevice.hpp"

namespace dynshare {

struct Philox4x32 {
    uint32_t v[4];
};

DS_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
    const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
    hi = static_cast<uint32_t>(p >> 32);
    lo = static_cast<uint32_t>(p);
}

DS_HD Philox4x32 philox4x32_10(Philox4x32 ctr, uint32_t k0, uint32_t k1) {
    for (int round = 0; round < 10; ++round) {
        uint32_t hi0, lo0, hi1, lo1;
        philox_mulhilo(0xD2511F53u, ctr.v[0], hi0, lo0);
        philox_mulhilo(0xCD9E8D57u, ctr.v[2], hi1, lo1);
        ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return ctr;
}

// SplitMix64 finaliser: turns (seed, run) into a well-mixed 64-bit key.
DS_HD uint64_t splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// What a stream of draws is for; part of the counter so streams never overlap.
enum class Stream : uint32_t { input = 0, initial_weights = 1, input_noise = 2, module_drive = 3 };

// Key of one run: (seed, run). `run` lets several runs share a seed.
struct RngKey {
    uint32_t k0, k1;
};

DS_HD RngKey make_key(uint64_t seed, uint64_t run) {
    const uint64_t h = splitmix64(seed ^ splitmix64(run + 0x632BE59BD9B4E019ull));
    return RngKey{static_cast<uint32_t>(h), static_cast<uint32_t>(h >> 32)};
}

// Two standard normals from one Philox block (Box-Muller on 53-bit uniforms).
DS_HD void normal_pair(RngKey key, uint32_t block, uint32_t a, uint32_t b, uint32_t c,
                       double& n0, double& n1) {
    const Philox4x32 out = philox4x32_10(Philox4x32{{block, a, b, c}}, key.k0, key.k1);
    const uint64_t i1 = (static_cast<uint64_t>(out.v[0]) << 21) ^ (out.v[1] >> 11);
    const uint64_t i2 = (static_cast<uint64_t>(out.v[2]) << 21) ^ (out.v[3] >> 11);
    const double u1 = (static_cast<double>(i1) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(i2) * 0x1.0p-53;          // [0, 1)
    const double rad = std::sqrt(-2.0 * std::log(u1));
    const double theta = 6.283185307179586476925286766559 * u2;
    n0 = rad * std::cos(theta);
    n1 = rad * std::sin(theta);
}

// Fills out[0..n) with N(0,1) draws addressed by (stream, a, b): a and b name
// the item (presentation, neuron, layer, ...). Element j lives in block j/2.
DS_HD void fill_normals(RngKey key, Stream stream, uint32_t a, uint32_t b, double* out, int n) {
    for (int j = 0; j < n; j += 2) {
        double n0, n1;
        normal_pair(key, static_cast<uint32_t>(j / 2), static_cast<uint32_t>(stream), a, b, n0, n1);
        out[j] = n0;
        if (j + 1 < n) out[j + 1] = n1;
    }
}

}  // namespace dynshare
