// SPDX-License-Identifier: BSD-3-Clause
// Dot products and sums with four fixed lanes: the compiler vectorises them
// without reassociation flags, and the summation order (hence the result) is
// fixed, whatever the thread count. The CUDA kernels use the same four lanes
// for a thread's own dot products (src/cuda/layer_kernels.cu).
#pragma once
#include <cstdint>

#include "dynshare/hostdevice.hpp"

namespace dynshare {

template <class T>
DS_HD T lane_dot(const T* a, const T* b, int64_t k) {
    T acc[4] = {T(0), T(0), T(0), T(0)};
    int64_t j = 0;
    for (; j + 4 <= k; j += 4)
        for (int l = 0; l < 4; ++l) acc[l] += a[j + l] * b[j + l];
    for (; j < k; ++j) acc[0] += a[j] * b[j];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// The same four lanes over strided elements, a[j * sa] * b[j * sb], each
// converted to T first: a thread's dot over a column of a K x n array (the
// CUDA kernels: one thread per neuron, inputs j at j * n), or a shared input
// row held in double (sb = 1). With sa = sb = 1 and T inputs it is lane_dot.
template <class T, class A, class B>
DS_HD T lane_dot_strided(const A* a, int64_t sa, const B* b, int64_t sb, int64_t k) {
    T acc[4] = {T(0), T(0), T(0), T(0)};
    int64_t j = 0;
    for (; j + 4 <= k; j += 4)
        for (int l = 0; l < 4; ++l) acc[l] += static_cast<T>(a[(j + l) * sa]) * static_cast<T>(b[(j + l) * sb]);
    for (; j < k; ++j) acc[0] += static_cast<T>(a[j * sa]) * static_cast<T>(b[j * sb]);
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

template <class T>
DS_HD T lane_sum(const T* a, int64_t n) {
    T acc[4] = {T(0), T(0), T(0), T(0)};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; ++l) acc[l] += a[i + l];
    for (; i < n; ++i) acc[0] += a[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

}  // namespace dynshare
