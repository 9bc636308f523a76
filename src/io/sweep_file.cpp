// SPDX-License-Identifier: BSD-3-Clause
#include "io/sweep_file.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <limits>

#include "dynshare/errors.hpp"
#include "dynshare/version.hpp"
#include "io/h5.hpp"
#include "io/run_file.hpp"
#include "io/stack_file.hpp"

namespace dynshare {

namespace {

void check(herr_t status, const std::string& what) {
    if (status < 0) h5::fail(what);  // a full disk: an IoError naming the output
}

std::string run_path(int64_t index) { return "runs/" + std::to_string(index); }

// Group names under /runs that are run indices.
std::vector<int64_t> run_indices(hid_t file) {
    std::vector<int64_t> out;
    if (!h5::exists(file, "runs")) return out;
    h5::Handle runs = h5::group(file, "runs");
    H5G_info_t info;
    check(H5Gget_info(runs.id(), &info), "list /runs");
    for (hsize_t i = 0; i < info.nlinks; ++i) {
        const ssize_t len =
            H5Lget_name_by_idx(runs.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (len < 0) throw std::runtime_error("HDF5: list /runs");
        std::string name(static_cast<size_t>(len) + 1, '\0');
        H5Lget_name_by_idx(runs.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
        name.resize(static_cast<size_t>(len));
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        out.push_back(std::stoll(name));
    }
    return out;
}

// A swept value as a number when its YAML text is one.
bool numeric_value(const std::string& text, double* value) {
    try {
        const YAML::Node node = YAML::Load(text);
        if (!node.IsScalar()) return false;
        *value = node.as<double>();
        return true;
    } catch (const YAML::Exception&) {
        return false;
    }
}

// A run group's attribute as a double: NaN when absent or not a number.
double numeric_attr(hid_t obj, const std::string& name) {
    if (!h5::has_attr(obj, name)) return std::numeric_limits<double>::quiet_NaN();
    h5::Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
    h5::Handle type(H5Aget_type(a.id()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.id());
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) return std::numeric_limits<double>::quiet_NaN();
    double v = 0;
    check(H5Aread(a.id(), H5T_NATIVE_DOUBLE, &v), "read attr " + name);
    return v;
}

void write_u64(hid_t loc, const std::string& path, const std::vector<uint64_t>& data) {
    if (h5::exists(loc, path)) check(H5Ldelete(loc, path.c_str(), H5P_DEFAULT), "delete " + path);
    const hsize_t n = data.size();
    h5::Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    h5::Handle ds(H5Dcreate2(loc, path.c_str(), H5T_NATIVE_UINT64, space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                  H5Dclose);
    if (!ds.valid()) throw std::runtime_error("HDF5: create " + path);
    if (n > 0) check(H5Dwrite(ds.id(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), "write " + path);
}

h5::Handle vlen_string_type() {
    h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.id(), H5T_VARIABLE);
    H5Tset_cset(type.id(), H5T_CSET_UTF8);
    return type;
}

void set_string_list_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
    if (h5::has_attr(obj, name)) H5Adelete(obj, name.c_str());
    const hsize_t n = values.size();
    h5::Handle type = vlen_string_type();
    h5::Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    h5::Handle a(H5Acreate2(obj, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!a.valid()) throw std::runtime_error("HDF5: attr " + name);
    std::vector<const char*> ptrs;
    for (const std::string& v : values) ptrs.push_back(v.c_str());
    if (n > 0) check(H5Awrite(a.id(), type.id(), ptrs.data()), "write attr " + name);
}

}  // namespace

void parse_shard(const std::string& spec, int64_t* index, int64_t* count) {
    const auto fail = [&] {
        throw UserError("--shard " + spec + ": expected i/n with integers 0 <= i < n (e.g. --shard 0/4)");
    };
    const auto slash = spec.find('/');
    if (slash == std::string::npos) fail();
    const std::string a = spec.substr(0, slash), b = spec.substr(slash + 1);
    for (const std::string& s : {a, b})
        if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) fail();
    *index = std::stoll(a);
    *count = std::stoll(b);
    if (*count < 1 || *index >= *count) fail();
}

int64_t shard_size(int64_t runs_total, int64_t shard_index, int64_t shard_count) {
    if (runs_total <= shard_index) return 0;
    return (runs_total - shard_index + shard_count - 1) / shard_count;
}

void RunCollector::on_record(int64_t step, double time, const std::vector<double>& neg_log_snr,
                             const std::vector<double>& mean_abs_over_std) {
    steps_.push_back(step);
    times_.push_back(time);
    values_.push_back(neg_log_snr);
    mas_.push_back(mean_abs_over_std);
}

void RunCollector::on_progress(int64_t done, int64_t /*total*/) {
    if (progress) progress(done - done_);
    done_ = done;
}

void RunCollector::replay(RunObserver& to, bool records) const {
    to.on_begin(initial_);
    if (records)
        for (size_t i = 0; i < steps_.size(); ++i) to.on_record(steps_[i], times_[i], values_[i], mas_[i]);
}

bool RunCollector::one_value_per_record() const {
    for (const auto& v : values_)
        if (v.size() != 1) return false;
    return true;
}

namespace {
void append_all(hid_t group, const std::string& path, hid_t type, const void* data, hsize_t n) {
    if (n == 0) return;
    h5::Handle ds(H5Dopen2(group, path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.valid()) throw std::runtime_error("HDF5: open " + path);
    h5::Handle space(H5Dget_space(ds.id()), H5Sclose);
    hsize_t old = 0;
    if (H5Sget_simple_extent_ndims(space.id()) != 1) throw std::runtime_error("HDF5: " + path + " is not 1-D");
    H5Sget_simple_extent_dims(space.id(), &old, nullptr);
    const hsize_t size = old + n;
    check(H5Dset_extent(ds.id(), &size), "extend " + path);
    h5::Handle fspace(H5Dget_space(ds.id()), H5Sclose);
    check(H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, &old, nullptr, &n, nullptr), "select " + path);
    h5::Handle mspace(H5Screate_simple(1, &n, nullptr), H5Sclose);
    check(H5Dwrite(ds.id(), type, mspace.id(), fspace.id(), H5P_DEFAULT, data), "write " + path);
}
}  // namespace

void RunCollector::write_records(hid_t group) const {
    std::vector<double> nls;
    nls.reserve(values_.size());
    for (const auto& v : values_) nls.push_back(v.at(0));
    const hsize_t n = steps_.size();
    append_all(group, "snr/step", H5T_NATIVE_INT64, steps_.data(), n);
    append_all(group, "snr/time", H5T_NATIVE_DOUBLE, times_.data(), n);
    append_all(group, "snr/neg_log_snr", H5T_NATIVE_DOUBLE, nls.data(), n);
}

void write_sweep_header(hid_t file, const SweepFileHeader& h) {
    h5::set_attr(file, "schema_version", h5::kSchemaVersion);
    h5::set_attr(file, "sweep", h.sweep_text);
    h5::set_attr(file, "version", std::string(version()));
    h5::set_build_attrs(file);
    h5::set_attr(file, "runs_total", h.runs_total);
    h5::set_attr(file, "shard_index", h.shard_index);
    h5::set_attr(file, "shard_count", h.shard_count);
    h5::set_attr(file, "shard", std::to_string(h.shard_index) + "/" + std::to_string(h.shard_count));
    h5::set_attr(file, "complete", int64_t{0});
    h5::group(file, "runs");
}

SweepFileHeader read_sweep_header(hid_t file, const std::string& path) {
    for (const char* name : {"sweep", "runs_total"})
        if (!h5::has_attr(file, name))
            throw UserError(path + " is not a sweep file (no root attribute '" + std::string(name) + "')");
    SweepFileHeader h;
    h.sweep_text = h5::attr_string(file, "sweep");
    h.runs_total = h5::attr_int(file, "runs_total");
    if (h5::has_attr(file, "shard_count")) {
        h.shard_index = h5::attr_int(file, "shard_index");
        h.shard_count = h5::attr_int(file, "shard_count");
    }
    return h;
}

std::map<int64_t, std::string> finished_runs(hid_t file) {
    std::map<int64_t, std::string> out;
    for (int64_t i : run_indices(file)) {
        h5::Handle g = h5::group(file, run_path(i));
        if (!h5::has_attr(g.id(), "status")) continue;
        const std::string status = h5::attr_string(g.id(), "status");
        if (status == "complete" || status == "diverged") out[i] = status;
    }
    return out;
}

void drop_unfinished_runs(hid_t file) {
    const auto finished = finished_runs(file);
    for (int64_t i : run_indices(file))
        if (!finished.count(i)) check(H5Ldelete(file, run_path(i).c_str(), H5P_DEFAULT), "delete " + run_path(i));
}

std::string run_config_text(hid_t file, int64_t index) {
    h5::Handle g = h5::group(file, run_path(index));
    return h5::has_attr(g.id(), "config") ? h5::attr_string(g.id(), "config") : "";
}

void write_sweep_run(hid_t file, const SweepRun& run, const RunPlan& plan, const std::string& config_yaml,
                     const RunCollector& data, const RunResult& result) {
    const std::string path = run_path(run.index);
    if (h5::exists(file, path)) check(H5Ldelete(file, path.c_str(), H5P_DEFAULT), "delete " + path);
    h5::Handle g = h5::group(file, path);
    // Sweep attributes first: a crash inside the writer leaves status "running", dropped on resume.
    // The writer then sets every scalar config key with its schema type (so an
    // integer key such as layer.kernel is int64 here as in a single run).
    for (const auto& [key, text] : run.values) {
        double v = 0;
        if (numeric_value(text, &v)) h5::set_attr(g.id(), key, v);
        else h5::set_attr(g.id(), key, text);
    }
    h5::set_attr(g.id(), "trial", int64_t{run.trial});
    h5::set_attr(g.id(), "point", run.point);
    h5::set_attr(g.id(), "index", run.index);
    if (plan.kind == PlanKind::stack) {
        StackFileWriter writer(g.id(), run.config, config_yaml, plan, false);
        h5::set_attr(g.id(), "seed", static_cast<uint64_t>(run.seed));
        data.replay(writer, true);
        writer.finish(result);
        return;
    }
    RunGroupWriter writer(g.id(), run.config, config_yaml, false);
    h5::set_attr(g.id(), "seed", static_cast<uint64_t>(run.seed));
    const bool bulk = data.one_value_per_record();
    data.replay(writer, !bulk);
    if (bulk) data.write_records(g.id());  // before finish() marks the run complete
    writer.finish(result);
}

SweepTally finish_sweep_file(hid_t file, const std::vector<std::string>& keys, const SweepFileHeader& header) {
    const auto finished = finished_runs(file);
    SweepTally tally;
    std::vector<double> params;
    std::vector<int64_t> index;
    std::vector<uint64_t> seeds;
    for (const auto& [i, status] : finished) {
        h5::Handle g = h5::group(file, run_path(i));
        for (const std::string& key : keys) params.push_back(numeric_attr(g.id(), key));
        index.push_back(i);
        seeds.push_back(h5::has_attr(g.id(), "seed") ? h5::attr_uint(g.id(), "seed") : 0);
        ++tally.done;
        if (status == "diverged") ++tally.diverged;
    }
    h5::Handle sweep = h5::group(file, "sweep");
    h5::write(sweep.id(), "params", params, {static_cast<hsize_t>(index.size()), static_cast<hsize_t>(keys.size())});
    {
        h5::Handle ds(H5Dopen2(sweep.id(), "params", H5P_DEFAULT), H5Dclose);
        set_string_list_attr(ds.id(), "columns", keys);
    }
    h5::write(sweep.id(), "index", index, {static_cast<hsize_t>(index.size())});
    write_u64(sweep.id(), "seed", seeds);
    int64_t in_shard = 0;
    for (const auto& entry : finished)
        if (entry.first < header.runs_total && entry.first % header.shard_count == header.shard_index) ++in_shard;
    tally.complete = in_shard == shard_size(header.runs_total, header.shard_index, header.shard_count);
    h5::set_attr(file, "runs_done", tally.done);
    h5::set_attr(file, "runs_diverged", tally.diverged);
    h5::set_attr(file, "complete", int64_t{tally.complete ? 1 : 0});
    H5Fflush(file, H5F_SCOPE_GLOBAL);
    return tally;
}

std::vector<std::string> sweep_columns(hid_t file) {
    std::vector<std::string> out;
    if (!h5::exists(file, "sweep/params")) return out;
    h5::Handle ds(H5Dopen2(file, "sweep/params", H5P_DEFAULT), H5Dclose);
    if (!h5::has_attr(ds.id(), "columns")) return out;
    h5::Handle a(H5Aopen(ds.id(), "columns", H5P_DEFAULT), H5Aclose);
    h5::Handle space(H5Aget_space(a.id()), H5Sclose);
    const hssize_t n = H5Sget_simple_extent_npoints(space.id());
    if (n <= 0) return out;
    h5::Handle type = vlen_string_type();
    std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
    check(H5Aread(a.id(), type.id(), ptrs.data()), "read attr columns");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(type.id(), space.id(), H5P_DEFAULT, ptrs.data());
    return out;
}

void check_run_layout(hid_t file, int64_t index, const std::string& path) {
    const std::string run = run_path(index);
    for (const char* ds : {"snr/step", "snr/time", "snr/neg_log_snr"})
        if (!h5::exists(file, run + "/" + ds))
            throw UserError(path + ": run " + std::to_string(index) + " is marked finished but has no /" + run + "/" +
                            ds + " (a damaged file; rerun that shard)");
    h5::Handle g = h5::group(file, run);
    for (const char* attr : {"config", "seed", "complete"})
        if (!h5::has_attr(g.id(), attr))
            throw UserError(path + ": run " + std::to_string(index) + " is marked finished but has no attribute '" +
                            attr + "' (a damaged file; rerun that shard)");
}

void copy_run(hid_t from, hid_t to, int64_t index) {
    h5::group(to, "runs");
    const std::string path = run_path(index);
    check(H5Ocopy(from, path.c_str(), to, path.c_str(), H5P_DEFAULT, H5P_DEFAULT), "copy " + path);
}

}  // namespace dynshare
