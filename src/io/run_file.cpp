#include "io/run_file.hpp"

#include "dynshare/errors.hpp"

namespace dynshare {

namespace {
void write_matrix(hid_t g, const std::string& path, const std::vector<double>& m, int64_t n, int64_t k) {
    h5::write(g, path, m, {static_cast<hsize_t>(n), static_cast<hsize_t>(k)});
}
}  // namespace

RunGroupWriter::RunGroupWriter(hid_t file, hid_t group, const SimConfig& cfg, const std::string& config_yaml,
                               bool resumed)
    : file_(file), group_(group), layers_(cfg.stack.enabled ? static_cast<int64_t>(cfg.stack.layers.size()) : 0) {
    if (resumed) {
        step_ = h5::Appendable::open(group, "snr/step", H5T_NATIVE_INT64);
        time_ = h5::Appendable::open(group, "snr/time", H5T_NATIVE_DOUBLE);
        nls_ = h5::Appendable::open(group, "snr/neg_log_snr", H5T_NATIVE_DOUBLE);
        h5::set_attr(group, "complete", int64_t{0});
        return;
    }
    h5::set_attr(group, "config", config_yaml);
    h5::set_attr(group, "version", std::string(DYNSHARE_VERSION));
    h5::set_attr(group, "seed", static_cast<uint64_t>(cfg.run.seed));
    h5::set_attr(group, "complete", int64_t{0});
    h5::set_attr(group, "status", std::string("running"));
    h5::set_attr(group, "model", std::string(to_string(cfg.model)));
    h5::set_attr(group, "integrator", std::string(to_string(cfg.dynamics.integrator)));
    h5::set_attr(group, "kernel", static_cast<int64_t>(cfg.layer.kernel));
    h5::set_attr(group, "neurons", static_cast<int64_t>(cfg.layer.neurons));
    h5::set_attr(group, "gamma", cfg.plasticity.gamma);
    h5::set_attr(group, "alpha", cfg.dynamics.alpha);
    h5::set_attr(group, "steps_per_presentation", cfg.steps_per_presentation());
    step_ = h5::Appendable::create(group, "snr/step", H5T_NATIVE_INT64, 0);
    time_ = h5::Appendable::create(group, "snr/time", H5T_NATIVE_DOUBLE, 0);
    nls_ = h5::Appendable::create(group, "snr/neg_log_snr", H5T_NATIVE_DOUBLE, static_cast<hsize_t>(layers_));
}

void RunGroupWriter::on_begin(const LayerCheckpoint& initial) {
    write_matrix(group_, "weights/initial", initial.w, initial.n, initial.k);
    on_checkpoint(initial);
}

void RunGroupWriter::on_record(int64_t step, double time, const std::vector<double>& neg_log_snr) {
    steps_buf_.push_back(step);
    time_buf_.push_back(time);
    nls_buf_.insert(nls_buf_.end(), neg_log_snr.begin(), neg_log_snr.end());
}

void RunGroupWriter::flush_records() {
    const size_t per = layers_ == 0 ? 1 : static_cast<size_t>(layers_);
    const size_t count = steps_buf_.size();
    step_.append_many(steps_buf_.data(), count);
    time_.append_many(time_buf_.data(), count);
    // Buffered as (records, layers); the dataset is (layers, records).
    std::vector<double> by_layer(nls_buf_.size());
    for (size_t i = 0; i < count; ++i)
        for (size_t l = 0; l < per; ++l) by_layer[l * count + i] = nls_buf_[i * per + l];
    nls_.append_many(by_layer.data(), count);
    steps_buf_.clear();
    time_buf_.clear();
    nls_buf_.clear();
}

void RunGroupWriter::on_checkpoint(const LayerCheckpoint& s) {
    flush_records();
    h5::Handle g = h5::group(group_, "checkpoint");
    h5::set_attr(g.id(), "presentation", s.presentation);
    h5::set_attr(g.id(), "step", s.step);
    write_matrix(g.id(), "w", s.w, s.n, s.k);
    write_matrix(g.id(), "w0", s.w0, s.n, s.k);
    write_matrix(g.id(), "v", s.v, s.n, s.k);
    h5::write(g.id(), "r", s.r, {static_cast<hsize_t>(s.r.size())});
    h5::write(g.id(), "r_inh", s.r_inh, {static_cast<hsize_t>(s.r_inh.size())});
    h5::flush(h5::Handle(H5Iget_file_id(group_), H5Fclose));
}

void RunGroupWriter::on_progress(int64_t done, int64_t total) {
    if (progress) progress(done, total);
}

void RunGroupWriter::finish(const SingleLayerResult& result) {
    const char* status = result.status == RunStatus::complete      ? "complete"
                         : result.status == RunStatus::interrupted ? "interrupted"
                                                                   : "diverged";
    if (result.status == RunStatus::diverged) {
        flush_records();  // records before the divergence; the checkpoint stays the last finite state
        h5::set_attr(group_, "message", result.message);
    } else {
        on_checkpoint(result.state);
        write_matrix(group_, "weights/final", result.state.w, result.state.n, result.state.k);
    }
    h5::write_scalar(group_, "snr/theory_min", result.theory_min);
    h5::set_attr(group_, "presentations_done", result.state.presentation);
    h5::set_attr(group_, "status", std::string(status));
    h5::set_attr(group_, "complete", int64_t{result.status == RunStatus::complete ? 1 : 0});
    h5::flush(h5::Handle(H5Iget_file_id(group_), H5Fclose));
}

LayerCheckpoint read_checkpoint(hid_t group) {
    if (!h5::exists(group, "checkpoint")) throw UserError("the file holds no checkpoint to resume from");
    h5::Handle g = h5::group(group, "checkpoint");
    LayerCheckpoint c;
    c.presentation = h5::attr_int(g.id(), "presentation");
    c.step = h5::attr_int(g.id(), "step");
    std::vector<hsize_t> dims;
    c.w = h5::read_doubles(g.id(), "w", &dims);
    c.n = static_cast<int64_t>(dims.at(0));
    c.k = static_cast<int64_t>(dims.at(1));
    c.w0 = h5::read_doubles(g.id(), "w0");
    c.v = h5::read_doubles(g.id(), "v");
    c.r = h5::read_doubles(g.id(), "r");
    c.r_inh = h5::read_doubles(g.id(), "r_inh");
    return c;
}

void truncate_records(hid_t group, int64_t step) {
    const std::vector<int64_t> steps = h5::read_ints(group, "snr/step");
    hsize_t keep = 0;
    while (keep < steps.size() && steps[keep] <= step) ++keep;
    for (const char* name : {"snr/step", "snr/time", "snr/neg_log_snr"}) {
        auto a = h5::Appendable::open(group, name, name == std::string("snr/step") ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE);
        a.truncate(keep);
    }
}

}  // namespace dynshare
