// SPDX-License-Identifier: BSD-3-Clause
#include "io/stack_file.hpp"

#include <cmath>

#include "dynshare/errors.hpp"
#include "dynshare/snr.hpp"
#include "io/run_file.hpp"

namespace dynshare {

namespace {

std::string shape_text(const std::vector<hsize_t>& d) {
    std::string s = "(";
    for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
    return s + ")";
}

std::vector<hsize_t> lc_shape(const LcGeometry& g) {
    return {hsize_t(g.c_out), hsize_t(g.h_out()), hsize_t(g.w_out()), hsize_t(g.fan_in())};
}

std::string layer_path(size_t l) { return "layers/" + std::to_string(l); }

void write_geometry(hid_t file, size_t l, const LayerPlan& pl) {
    h5::Handle g = h5::group(file, layer_path(l));
    const LcGeometry& q = pl.g;
    h5::set_attr(g.id(), "c_in", int64_t{q.c_in});
    h5::set_attr(g.id(), "h_in", int64_t{q.h_in});
    h5::set_attr(g.id(), "w_in", int64_t{q.w_in});
    h5::set_attr(g.id(), "c_out", int64_t{q.c_out});
    h5::set_attr(g.id(), "k", int64_t{q.k});
    h5::set_attr(g.id(), "stride", int64_t{q.stride});
    h5::set_attr(g.id(), "padding", int64_t{q.padding});
    h5::set_attr(g.id(), "h_out", int64_t{q.h_out()});
    h5::set_attr(g.id(), "w_out", int64_t{q.w_out()});
    h5::set_attr(g.id(), "period", int64_t{pl.period});
    h5::set_attr(g.id(), "modules", pl.modules());
    h5::set_attr(g.id(), "nonlinearity", std::string(to_string(pl.phi)));
}

const char* connectivity_name(const StackParams& s) {
    switch (s.connectivity) {
        case Connectivity::grid: return "grid";
        case Connectivity::full: return "full";
        case Connectivity::period: return "period";
    }
    return "?";
}

}  // namespace

void write_lc_weights(hid_t loc, const std::string& path, const LcGeometry& g, const std::vector<double>& w) {
    h5::write(loc, path, w, lc_shape(g));
}

std::vector<std::vector<double>> read_stack_weights(const std::string& path, const std::vector<LcGeometry>& geometry) {
    h5::Handle file = h5::open_file(path, h5::Mode::read_only);
    std::vector<std::vector<double>> out;
    for (size_t l = 0; l < geometry.size(); ++l) {
        const LcGeometry& g = geometry[l];
        const std::vector<hsize_t> want = lc_shape(g);
        const std::string base = "/" + layer_path(l) + "/";
        std::string ds = base + "weights";
        if (!h5::exists(file.id(), ds) && h5::exists(file.id(), base + "weights_final")) ds = base + "weights_final";
        if (!h5::exists(file.id(), ds))
            throw UserError(path + ": dataset " + base + "weights (or " + base + "weights_final) is missing; layer " +
                            std::to_string(l) + " needs shape " + shape_text(want) + " = (c_out, h_out, w_out, c_in*k*k)");
        std::vector<hsize_t> dims;
        std::vector<double> w = h5::read_doubles(file.id(), ds, &dims);
        const std::vector<hsize_t> six = {want[0], want[1], want[2], hsize_t(g.c_in), hsize_t(g.k), hsize_t(g.k)};
        if (dims != want && dims != six)
            throw UserError(path + ": dataset " + ds + " has shape " + shape_text(dims) + "; the config needs " +
                            shape_text(want) + " = (c_out, h_out, w_out, c_in*k*k) for layer " + std::to_string(l));
        for (double v : w)
            if (!std::isfinite(v)) throw UserError(path + ": dataset " + ds + " holds non-finite values");
        out.push_back(std::move(w));
    }
    return out;
}

StackFileWriter::StackFileWriter(hid_t file, const SimConfig& cfg, const std::string& config_yaml,
                                 const RunPlan& plan, bool resumed)
    : RunWriter(file, cfg, config_yaml, plan.layers.size(), resumed), plan_(plan) {
    if (resumed) return;
    const size_t L = plan.layers.size();
    h5::set_attr(file, "layers", static_cast<int64_t>(L));
    h5::set_attr(file, "connectivity", std::string(connectivity_name(cfg.stack)));
    h5::set_attr(file, "schedule", std::string(to_string(cfg.stack.schedule)));
    h5::set_attr(file, "pattern_period", int64_t{plan.pattern_period});
    for (size_t l = 0; l < L; ++l) write_geometry(file, l, plan.layers[l]);
}

void StackFileWriter::write_initial(const RunState& initial) {
    for (size_t l = 0; l < initial.layers.size(); ++l) {
        write_lc_weights(group_, layer_path(l) + "/weights_initial", plan_.layers[l].g, initial.layers[l].w);
        h5::Handle g = h5::group(group_, layer_path(l));
        h5::set_attr(g.id(), "snr_authors_initial", lc_snr_authors(plan_.layers[l].g, initial.layers[l].w.data()));
    }
}

// The initial state is weights_initial with v = 0, r = bias, r_inh = 0: the
// checkpoint at presentation 0 holds no arrays (read_stack_checkpoint rebuilds it).
void StackFileWriter::write_checkpoint_arrays(hid_t g, const RunState& s) {
    if (s.presentation == 0) return;
    for (size_t l = 0; l < s.layers.size(); ++l) {
        const LayerState& q = s.layers[l];
        const LcGeometry& geo = plan_.layers[l].g;
        h5::Handle lg = h5::group(g, layer_path(l));
        const std::vector<hsize_t> mat = {hsize_t(geo.neurons()), hsize_t(geo.fan_in())};
        h5::write(lg.id(), "w", q.w, mat);  // w0 is weights_initial
        h5::write(lg.id(), "v", q.v, mat);
        h5::write(lg.id(), "r", q.r, {hsize_t(q.r.size())});
        h5::write(lg.id(), "r_inh", q.r_inh, {hsize_t(q.r_inh.size())});
    }
}

void StackFileWriter::write_final(const RunResult& result) {
    // A final checkpoint always (an interrupted run resumes from it; a complete
    // one can be extended from it), and the final weights of a complete run.
    on_checkpoint(result.state);
    if (result.status != RunStatus::complete) return;
    for (size_t l = 0; l < result.state.layers.size(); ++l) {
        write_lc_weights(group_, layer_path(l) + "/weights_final", plan_.layers[l].g, result.state.layers[l].w);
        h5::Handle g = h5::group(group_, layer_path(l));
        h5::set_attr(g.id(), "snr_authors_final", lc_snr_authors(plan_.layers[l].g, result.state.layers[l].w.data()));
    }
}

void StackFileWriter::write_summary(const RunResult& result) {
    const hsize_t L = plan_.layers.size();
    h5::write(group_, "timing/layer_seconds", result.layer_seconds, {L});
    h5::write(group_, "timing/pattern_seconds", result.pattern_seconds, {L});
    h5::set_attr(group_, "seconds", result.seconds);
}

RunState read_stack_checkpoint(hid_t file, const RunPlan& plan, double bias) {
    h5::Handle g = open_checkpoint(file);
    RunState s;
    s.presentation = h5::attr_int(g.id(), "presentation");
    s.step = h5::attr_int(g.id(), "step");
    const bool initial = !h5::exists(g.id(), "layers");
    if (initial && s.presentation != 0) throw UserError("the file's checkpoint holds no layer state");
    for (size_t l = 0; l < plan.layers.size(); ++l) {
        const LayerPlan& pl = plan.layers[l];
        const std::string base = layer_path(l) + "/";
        LayerState q;
        q.n = pl.g.neurons();
        q.k = pl.g.fan_in();
        q.w0 = h5::read_doubles(file, base + "weights_initial");
        if (initial) {
            q.w = q.w0;
            q.v.assign(q.w.size(), 0.0);
            q.r.assign(size_t(pl.g.neurons()), bias);
            q.r_inh.assign(size_t(pl.modules()), 0.0);
        } else {
            q.w = h5::read_doubles(g.id(), base + "w");
            q.v = h5::read_doubles(g.id(), base + "v");
            q.r = h5::read_doubles(g.id(), base + "r");
            q.r_inh = h5::read_doubles(g.id(), base + "r_inh");
        }
        const size_t nk = size_t(pl.g.weight_count());
        if (q.w.size() != nk || q.w0.size() != nk || q.v.size() != nk || q.r.size() != size_t(pl.g.neurons()) ||
            q.r_inh.size() != size_t(pl.modules()))
            throw UserError("checkpoint/layers/" + std::to_string(l) + " does not match the config's geometry");
        s.layers.push_back(std::move(q));
    }
    return s;
}

}  // namespace dynshare
