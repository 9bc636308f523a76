// SPDX-License-Identifier: BSD-3-Clause
// dynshare.sleep_phase: the trainer's simulated sleep phase on weights that
// Python holds (numpy arrays, or torch CPU tensors through .numpy(), which
// shares their storage). The trainer's steps (src/trainer/sharing.cpp
// apply_sharing, sharing_simulated.cpp sleep_through_host), with the same
// functions: -log SNR_w of the stored weights (lc_snr, period k, on their
// exact doubles, as network_snr); the phase's random stream
// (sleep_phase_stream) and engine config (sleep_phase_config); the weights
// converted exactly to doubles in the layout of lc_geometry.hpp;
// run_sleep_phase on the CPU backend; the result rounded to the caller's
// type (double -> float to nearest, as torch's copy_) in the same storage;
// -log SNR_w of the stored result.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <array>

#include "bindings.hpp"
#include "dynshare/backend.hpp"
#include "dynshare/errors.hpp"
#include "dynshare/sleep_phase.hpp"
#include "io/config_yaml.hpp"

namespace dynshare::python {

namespace {

using Strides = std::array<int64_t, 6>;  // elements, for (c_out, y, x, c_in, ky, kx)

// Visits every weight of a layer in the engine's order (lc_geometry.hpp):
// f(i, offset) with i the engine's index and offset the element's in the caller's array.
template <class F>
void for_each_weight(const LcGeometry& g, const Strides& s, F&& f) {
    int64_t i = 0;
    for (int c = 0; c < g.c_out; ++c)
        for (int y = 0; y < g.h_out(); ++y)
            for (int x = 0; x < g.w_out(); ++x)
                for (int ci = 0; ci < g.c_in; ++ci)
                    for (int ky = 0; ky < g.k; ++ky) {
                        const int64_t row = c * s[0] + y * s[1] + x * s[2] + ci * s[3] + ky * s[4];
                        for (int kx = 0; kx < g.k; ++kx) f(i++, row + kx * s[5]);
                    }
}

// Whether the caller's array is already in the engine's order (dynshare's
// layout): then one flat, vectorisable loop converts it.
bool engine_order(const LcGeometry& g, const Strides& s) {
    const int64_t k = g.k;
    return s[5] == 1 && s[4] == k && s[3] == k * k && s[2] == g.fan_in() && s[1] == int64_t(g.w_out()) * g.fan_in() &&
           s[0] == int64_t(g.h_out()) * g.w_out() * g.fan_in();
}

template <class T>
void gather(const T* from, const LcGeometry& g, const Strides& s, std::vector<double>& to) {
    to.resize(size_t(g.weight_count()));
    if (engine_order(g, s)) {
        for (size_t i = 0; i < to.size(); ++i) to[i] = double(from[i]);
        return;
    }
    for_each_weight(g, s, [&](int64_t i, int64_t off) { to[size_t(i)] = double(from[off]); });
}

// Writes the weights back and leaves in `from` the values now stored (rounded to T).
template <class T>
void scatter(std::vector<double>& from, const LcGeometry& g, const Strides& s, T* to) {
    if (engine_order(g, s)) {
        for (size_t i = 0; i < from.size(); ++i) {
            to[i] = static_cast<T>(from[i]);
            from[i] = double(to[i]);
        }
        return;
    }
    for_each_weight(g, s, [&](int64_t i, int64_t off) {
        to[off] = static_cast<T>(from[size_t(i)]);
        from[size_t(i)] = double(to[off]);
    });
}

// The `sleep` parameters: the trainer's defaults with the caller's overrides
// ("key.path=value"), parsed and validated as a full stacked config over the
// chain (so every key is checked against the schema, with the CLI's messages).
SimConfig sleep_parameters(const std::vector<LcGeometry>& geo, const std::vector<std::string>& sets,
                           int64_t presentations, uint64_t seed, uint64_t phase) {
    const SimConfig base = sleep_phase_config(sleep_phase_defaults(), geo, presentations, seed, phase);
    if (sets.empty()) return base;
    YAML::Node tree = load_yaml(to_yaml(base), "config");
    for (const std::string& s : sets) apply_override(tree, s);
    return config_from_node(tree, "config");
}

py::tuple sleep_phase(std::vector<py::array> arrays, const std::vector<std::array<int, 7>>& geometry,
                     const std::vector<Strides>& strides, const std::vector<std::string>& sets, int64_t presentations,
                     uint64_t seed, uint64_t phase, int threads) {
    // The Python layer has checked dtypes, shapes, strides and values; these
    // are the engine's own checks (geometry, config), before any weight is touched.
    if (arrays.size() != geometry.size() || strides.size() != geometry.size())
        throw UserError("weights: " + std::to_string(arrays.size()) + " arrays for " +
                        std::to_string(geometry.size()) + " layers in geometry");
    std::vector<LcGeometry> geo;
    for (const auto& a : geometry) geo.push_back(LcGeometry{a[0], a[1], a[2], a[3], a[4], a[5], a[6]});
    const uint64_t stream = sleep_phase_stream(seed, phase);
    const SimConfig sleep = sleep_parameters(geo, sets, presentations, seed, stream);
    const SimConfig sim = sleep_phase_config(sleep, geo, presentations, seed, stream);
    // run_sleep_phase checks the plan and the backend (UserError) before it
    // runs; the weights are written back only after it returns.
    const auto cpu = make_cpu_backend();

    std::vector<void*> data;
    std::vector<bool> single;
    for (py::array& a : arrays) {
        data.push_back(a.mutable_data());
        single.push_back(a.dtype().is(py::dtype::of<float>()));
    }
    const OmpThreads omp(threads);
    SleepPhaseResult r;
    std::vector<double> before(geo.size()), after(geo.size());
    {
        py::gil_scoped_release nogil;
        std::vector<std::vector<double>> w(geo.size());
        for (size_t l = 0; l < geo.size(); ++l) {
            if (single[l]) gather(static_cast<const float*>(data[l]), geo[l], strides[l], w[l]);
            else gather(static_cast<const double*>(data[l]), geo[l], strides[l], w[l]);
            before[l] = lc_neg_log_snr(geo[l], w[l].data(), geo[l].k);
        }
        r = run_sleep_phase(sim, geo, w, stream, *cpu);
        for (size_t l = 0; l < geo.size(); ++l) {
            if (single[l]) scatter(w[l], geo[l], strides[l], static_cast<float*>(data[l]));
            else scatter(w[l], geo[l], strides[l], static_cast<double*>(data[l]));
            after[l] = lc_neg_log_snr(geo[l], w[l].data(), geo[l].k);
        }
    }
    py::list out;
    for (size_t l = 0; l < geo.size(); ++l) out.append(py::make_tuple(before[l], after[l]));
    return py::make_tuple(out, r.seconds);
}

}  // namespace

void bind_sleep_phase(py::module_& m) {
    m.def("sleep_phase", &sleep_phase, py::arg("arrays"), py::arg("geometry"), py::arg("strides"), py::arg("sets"),
          py::arg("presentations"), py::arg("seed"), py::arg("phase"), py::arg("threads"),
          "The trainer's simulated sleep phase on the arrays, in place: ([(before, after) -log SNR_w per layer], "
          "the engine's seconds).");
    m.def(
        "lc_neg_log_snr",
        [](py::array_t<double, py::array::c_style | py::array::forcecast> w, const std::array<int, 7>& a) {
            const LcGeometry g{a[0], a[1], a[2], a[3], a[4], a[5], a[6]};
            if (w.size() != g.weight_count()) throw UserError("weights: size does not match the geometry");
            return lc_neg_log_snr(g, w.data(), g.k);
        },
        py::arg("weights"), py::arg("geometry"), "-log SNR_w (Eq. 6) of one LC layer's weights, grid modules.");
}

}  // namespace dynshare::python
