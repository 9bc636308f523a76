// SPDX-License-Identifier: BSD-3-Clause
#include "io/run_writer.hpp"

#include "dynshare/version.hpp"
#include "io/config_yaml.hpp"

namespace dynshare {

RunWriter::RunWriter(hid_t group, const SimConfig& cfg, const std::string& config_yaml, hsize_t series, bool resumed)
    : group_(group), series_(series) {
    if (resumed) {
        step_ = h5::Appendable::open(group, "snr/step", H5T_NATIVE_INT64);
        time_ = h5::Appendable::open(group, "snr/time", H5T_NATIVE_DOUBLE);
        nls_ = h5::Appendable::open(group, "snr/neg_log_snr", H5T_NATIVE_DOUBLE);
        if (series_ > 0) mas_ = h5::Appendable::open(group, "snr/mean_abs_over_std", H5T_NATIVE_DOUBLE);
        h5::set_attr(group, "complete", int64_t{0});
        h5::set_attr(group, "status", std::string("running"));
        return;
    }
    h5::set_attr(group, "schema_version", h5::kSchemaVersion);
    h5::set_attr(group, "config", config_yaml);
    h5::set_attr(group, "version", std::string(version()));
    h5::set_build_attrs(group);
    h5::set_attr(group, "seed", static_cast<uint64_t>(cfg.run.seed));
    h5::set_attr(group, "complete", int64_t{0});
    h5::set_attr(group, "status", std::string("running"));
    h5::set_attr(group, "model", std::string(to_string(cfg.model)));
    h5::set_attr(group, "integrator", std::string(to_string(cfg.dynamics.integrator)));
    h5::set_attr(group, "gamma", cfg.plasticity.gamma);
    h5::set_attr(group, "alpha", cfg.dynamics.alpha);
    h5::set_attr(group, "steps_per_presentation", cfg.steps_per_presentation());
    // Every scalar key of the resolved config under its full key path
    // (layer.kernel, dynamics.alpha, plasticity.gamma, stack.drive...): the same
    // names in single runs, stacked runs and each run of a sweep.
    h5::set_attrs(group, config_scalars(cfg));
    step_ = h5::Appendable::create(group, "snr/step", H5T_NATIVE_INT64, 0);
    time_ = h5::Appendable::create(group, "snr/time", H5T_NATIVE_DOUBLE, 0);
    nls_ = h5::Appendable::create(group, "snr/neg_log_snr", H5T_NATIVE_DOUBLE, series_);
    if (series_ > 0) mas_ = h5::Appendable::create(group, "snr/mean_abs_over_std", H5T_NATIVE_DOUBLE, series_);
}

void RunWriter::on_begin(const RunState& initial) {
    write_initial(initial);
    write_checkpoint(initial, true);
}

// Two phases: the new checkpoint is written whole under /checkpoint_next and
// marked complete; only then does it replace /checkpoint (unlink, rename).
// Readers take /checkpoint, or a complete /checkpoint_next (open_checkpoint
// in run_file.cpp). A killed process cannot damage the published file (it
// is never modified in place: io/durable_output.hpp); the two phases keep a
// file written without publishing (tests, library use) as safe as HDF5 allows.
void RunWriter::write_checkpoint(const RunState& s, bool force) {
    flush_records();
    h5::remove(group_, "checkpoint_next");
    {
        h5::Handle g = h5::group(group_, "checkpoint_next");
        h5::set_attr(g.id(), "presentation", s.presentation);
        h5::set_attr(g.id(), "step", s.step);
        write_checkpoint_arrays(g.id(), s);
        h5::set_attr(g.id(), "complete", int64_t{1});
    }
    if (!publish) flush_file();
    h5::remove(group_, "checkpoint");
    h5::move(group_, "checkpoint_next", "checkpoint");
    make_durable(force);
}

void RunWriter::on_record(int64_t step, double time, const std::vector<double>& nls, const std::vector<double>& mas) {
    steps_buf_.push_back(step);
    time_buf_.push_back(time);
    const size_t per = series_ == 0 ? 1 : series_;
    nls_buf_.insert(nls_buf_.end(), nls.begin(), nls.begin() + std::min(per, nls.size()));
    if (series_ > 0) mas_buf_.insert(mas_buf_.end(), mas.begin(), mas.begin() + std::min(per, mas.size()));
}

void RunWriter::flush_records() {
    const size_t per = series_ == 0 ? 1 : series_;
    const size_t count = steps_buf_.size();
    if (count == 0) return;
    step_.append_many(steps_buf_.data(), count);
    time_.append_many(time_buf_.data(), count);
    // Buffered as (records, layers); the datasets are (layers, records).
    auto by_layer = [&](const std::vector<double>& buf) {
        std::vector<double> out(buf.size());
        for (size_t i = 0; i < count; ++i)
            for (size_t l = 0; l < per; ++l) out[l * count + i] = buf[i * per + l];
        return out;
    };
    nls_.append_many(by_layer(nls_buf_).data(), count);
    if (series_ > 0) mas_.append_many(by_layer(mas_buf_).data(), count);
    steps_buf_.clear();
    time_buf_.clear();
    nls_buf_.clear();
    mas_buf_.clear();
}

void RunWriter::flush_file() const { h5::flush(h5::Handle(H5Iget_file_id(group_), H5Fclose)); }

void RunWriter::make_durable(bool force) const {
    if (finishing_ && !force) return;  // finish() publishes once, at its end
    if (publish) publish(force);
    else flush_file();
}

void RunWriter::on_checkpoint(const RunState& s) { write_checkpoint(s); }

void RunWriter::on_progress(int64_t done, int64_t total) {
    if (progress) progress(done, total);
}

void RunWriter::finish(const RunResult& result) {
    finishing_ = true;
    const char* status = result.status == RunStatus::complete      ? "complete"
                         : result.status == RunStatus::interrupted ? "interrupted"
                                                                   : "diverged";
    if (result.status == RunStatus::diverged) {
        flush_records();  // records before the divergence; the checkpoint stays the last finite state
        h5::set_attr(group_, "message", result.message);
        h5::set_attr(group_, "diverged_at_step", result.diverged_at_step);
    } else {
        write_final(result);
    }
    write_summary(result);
    h5::set_attr(group_, "presentations_done", result.state.presentation);
    h5::set_attr(group_, "status", std::string(status));
    h5::set_attr(group_, "complete", int64_t{result.status == RunStatus::complete ? 1 : 0});
    make_durable(true);
}

}  // namespace dynshare
