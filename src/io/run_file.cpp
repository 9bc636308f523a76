// SPDX-License-Identifier: BSD-3-Clause
#include "io/run_file.hpp"

#include "dynshare/errors.hpp"

namespace dynshare {

namespace {
void write_matrix(hid_t g, const std::string& path, const std::vector<double>& m, int64_t n, int64_t k) {
    h5::write(g, path, m, {static_cast<hsize_t>(n), static_cast<hsize_t>(k)});
}
}  // namespace

RunGroupWriter::RunGroupWriter(hid_t group, const SimConfig& cfg, const std::string& config_yaml, bool resumed)
    : RunWriter(group, cfg, config_yaml, 0, resumed) {
    if (resumed) return;
    h5::set_attr(group, "kernel", static_cast<int64_t>(cfg.layer.kernel));
    h5::set_attr(group, "neurons", static_cast<int64_t>(cfg.layer.neurons));
}

void RunGroupWriter::write_initial(const RunState& initial) {
    const LayerState& s = initial.layers.at(0);
    write_matrix(group_, "weights/initial", s.w, s.n, s.k);
}

void RunGroupWriter::write_checkpoint_arrays(hid_t g, const RunState& state) {
    const LayerState& s = state.layers.at(0);
    write_matrix(g, "w", s.w, s.n, s.k);
    write_matrix(g, "w0", s.w0, s.n, s.k);
    write_matrix(g, "v", s.v, s.n, s.k);
    h5::write(g, "r", s.r, {static_cast<hsize_t>(s.r.size())});
    h5::write(g, "r_inh", s.r_inh, {static_cast<hsize_t>(s.r_inh.size())});
}

void RunGroupWriter::write_final(const RunResult& result) {
    on_checkpoint(result.state);
    const LayerState& s = result.state.layers.at(0);
    write_matrix(group_, "weights/final", s.w, s.n, s.k);
}

void RunGroupWriter::write_summary(const RunResult& result) {
    h5::write_scalar(group_, "snr/theory_min", result.theory_min);
}

h5::Handle open_checkpoint(hid_t group) {
    auto complete = [&](const char* name) {
        if (!h5::exists(group, name)) return false;
        h5::Handle g = h5::group(group, name);
        // Files written before the two-phase checkpoints have no marker.
        return !h5::has_attr(g.id(), "complete") || h5::attr_int(g.id(), "complete") == 1;
    };
    if (h5::exists(group, "checkpoint")) return h5::group(group, "checkpoint");
    if (complete("checkpoint_next")) return h5::group(group, "checkpoint_next");
    throw UserError("the file holds no complete checkpoint to resume from");
}

RunState read_checkpoint(hid_t group) {
    h5::Handle g = open_checkpoint(group);
    RunState st;
    st.presentation = h5::attr_int(g.id(), "presentation");
    st.step = h5::attr_int(g.id(), "step");
    LayerState c;
    std::vector<hsize_t> dims;
    c.w = h5::read_doubles(g.id(), "w", &dims);
    c.n = static_cast<int64_t>(dims.at(0));
    c.k = static_cast<int64_t>(dims.at(1));
    c.w0 = h5::read_doubles(g.id(), "w0");
    c.v = h5::read_doubles(g.id(), "v");
    c.r = h5::read_doubles(g.id(), "r");
    c.r_inh = h5::read_doubles(g.id(), "r_inh");
    st.layers.push_back(std::move(c));
    return st;
}

void truncate_records(hid_t group, int64_t step) {
    const std::vector<int64_t> steps = h5::read_ints(group, "snr/step");
    // Records up to the checkpoint's step, strictly increasing (a process
    // killed while extending the datasets can leave fill values behind).
    hsize_t keep = 0;
    while (keep < steps.size() && steps[keep] <= step && (keep == 0 || steps[keep] > steps[keep - 1])) ++keep;
    for (const char* name : {"snr/step", "snr/time", "snr/neg_log_snr", "snr/mean_abs_over_std"}) {
        if (!h5::exists(group, name)) continue;
        auto a = h5::Appendable::open(group, name, name == std::string("snr/step") ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE);
        a.truncate(keep);
    }
}

}  // namespace dynshare
