// SPDX-License-Identifier: BSD-3-Clause
// HDF5 output with the C API; a whole-file rewrite per epoch is cheap (a few
// kB) and keeps the file valid if the run is killed mid-epoch.
#include "trainer/metrics.hpp"

#include <hdf5.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "dynshare/errors.hpp"
#include "io/io_error.hpp"
#include "io/h5.hpp"
#include "trainer/lc_gemm.hpp"
#include "trainer/train_config.hpp"

namespace dynshare::trainer {
namespace {

using Vec = std::vector<double>;
using Mat = std::vector<std::vector<double>>;

torch::Tensor vec_tensor(const Vec& v) { return torch::tensor(v.empty() ? Vec{} : v, torch::kDouble).clone(); }

torch::Tensor mat_tensor(const Mat& m) {
    if (m.empty()) return torch::zeros({0, 0}, torch::kDouble);
    auto t = torch::empty({int64_t(m.size()), int64_t(m[0].size())}, torch::kDouble);
    for (size_t i = 0; i < m.size(); ++i)
        for (size_t j = 0; j < m[i].size(); ++j) t[i][j] = m[i][j];
    return t;
}

Vec tensor_vec(const torch::Tensor& t) {
    auto c = t.to(torch::kDouble).contiguous();
    return Vec(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

Mat tensor_mat(const torch::Tensor& t) {
    Mat m;
    for (int64_t i = 0; i < t.size(0); ++i) m.push_back(tensor_vec(t[i]));
    return m;
}

// Every failure goes through h5::fail: a full disk is an IoError.
void write_dataset(hid_t group, const std::string& name, const double* data, hsize_t rows, hsize_t cols, bool matrix) {
    hsize_t dims[2] = {rows, cols};
    h5::Handle space(H5Screate_simple(matrix ? 2 : 1, dims, nullptr), H5Sclose);
    h5::Handle ds(H5Dcreate2(group, name.c_str(), H5T_IEEE_F64LE, space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                  H5Dclose);
    if (!ds.valid()) h5::fail("create dataset " + name, group);
    if (rows * (matrix ? cols : 1) > 0 &&
        H5Dwrite(ds.id(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        h5::fail("write " + name, group);
}

void write_vec(hid_t g, const std::string& name, const Vec& v) { write_dataset(g, name, v.data(), v.size(), 1, false); }

void write_mat(hid_t g, const std::string& name, const Mat& m, size_t cols) {
    Vec flat;
    for (const auto& row : m) flat.insert(flat.end(), row.begin(), row.end());
    write_dataset(g, name, flat.data(), m.size(), cols, true);
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> Metrics::to_tensors() const {
    return {{"train_loss", vec_tensor(train_loss)}, {"train_top1", vec_tensor(train_top1)},
            {"test_loss", vec_tensor(test_loss)},   {"test_top1", vec_tensor(test_top1)},
            {"test_top5", vec_tensor(test_top5)},   {"val_loss", vec_tensor(val_loss)},
            {"val_top1", vec_tensor(val_top1)},     {"val_top5", vec_tensor(val_top5)},
            {"lr", vec_tensor(lr)},                 {"seconds", vec_tensor(seconds)},
            {"iterations", vec_tensor(iterations)}, {"world_size", vec_tensor(world_size)},
            {"snr", mat_tensor(snr)}, {"snr_authors", mat_tensor(snr_authors)},
            {"sleep_iteration", vec_tensor(sleep_iteration)}, {"sleep_seconds", vec_tensor(sleep_seconds)},
            {"sleep_snr_before", mat_tensor(sleep_snr_before)}, {"sleep_snr_after", mat_tensor(sleep_snr_after)}};
}

void Metrics::from_tensors(const std::vector<std::pair<std::string, torch::Tensor>>& named) {
    for (const auto& [name, t] : named) {
        if (name == "snr") snr = tensor_mat(t);
        else if (name == "snr_authors") snr_authors = tensor_mat(t);
        else if (name == "sleep_snr_before") sleep_snr_before = tensor_mat(t);
        else if (name == "sleep_snr_after") sleep_snr_after = tensor_mat(t);
        else {
            Vec* v = name == "train_loss" ? &train_loss : name == "train_top1" ? &train_top1
                   : name == "test_loss" ? &test_loss : name == "test_top1" ? &test_top1
                   : name == "test_top5" ? &test_top5 : name == "val_loss" ? &val_loss
                   : name == "val_top1" ? &val_top1 : name == "val_top5" ? &val_top5
                   : name == "lr" ? &lr : name == "seconds" ? &seconds
                   : name == "iterations" ? &iterations : name == "world_size" ? &world_size
                   : name == "sleep_iteration" ? &sleep_iteration
                   : name == "sleep_seconds" ? &sleep_seconds : nullptr;
            if (v) *v = tensor_vec(t);
        }
    }
}

namespace {
void write_metrics_file(const std::string& tmp, const Metrics& m, const RunConfig& cfg, const std::string& network, const std::vector<std::string>& lc_names, int64_t world_size) {
    h5::Handle file = h5::open_file(tmp, h5::Mode::create_truncate);
    std::string names;
    for (const auto& n : lc_names) names += (names.empty() ? "" : "\n") + n;
    // Root attributes: variable-length UTF-8 strings (h5py reads str), the
    // schema version, and every scalar config key under its full key path
    // (train.lr, sharing.mode, sleep.dynamics.alpha...), as in run files.
    h5::set_attr(file.id(), "schema_version", h5::kSchemaVersion);
    h5::set_build_attrs(file.id());
    h5::set_attr(file.id(), "config", to_yaml(cfg));
    h5::set_attr(file.id(), "network", network);
    h5::set_attr(file.id(), "lc_layers", names);
    h5::set_attr(file.id(), "world_size", world_size);
    // The instruction-set form of the CPU LC kernel in this process (results
    // of different forms agree to rounding only; lc_gemm.hpp).
    h5::set_attr(file.id(), "lc_kernel", std::string(to_string(lc_isa())));
    h5::set_attrs(file.id(), config_scalars(cfg));
    const size_t layers = lc_names.size();
    {
        h5::Handle ep = h5::group(file.id(), "epochs");
        const hid_t g = ep.id();
        write_vec(g, "train_loss", m.train_loss);
        write_vec(g, "train_top1", m.train_top1);
        write_vec(g, "test_loss", m.test_loss);
        write_vec(g, "test_top1", m.test_top1);
        write_vec(g, "test_top5", m.test_top5);
        write_vec(g, "val_loss", m.val_loss);
        write_vec(g, "val_top1", m.val_top1);
        write_vec(g, "val_top5", m.val_top5);
        write_vec(g, "lr", m.lr);
        write_vec(g, "seconds", m.seconds);
        write_vec(g, "iterations", m.iterations);
        write_vec(g, "world_size", m.world_size);
        write_mat(g, "snr", m.snr, layers);
        write_mat(g, "snr_authors", m.snr_authors, layers);
    }
    {
        h5::Handle sl = h5::group(file.id(), "sleep");
        write_vec(sl.id(), "iteration", m.sleep_iteration);
        write_vec(sl.id(), "seconds", m.sleep_seconds);
        write_mat(sl.id(), "snr_before", m.sleep_snr_before, layers);
        write_mat(sl.id(), "snr_after", m.sleep_snr_after, layers);
    }
    if (file.close() < 0) h5::fail("close " + tmp);
}
}  // namespace

// Written whole to PATH.tmp and renamed over PATH: a failed write (a full
// disk) removes PATH.tmp and leaves PATH as it was, with one IoError naming it.
void write_metrics_h5(const std::string& path, const Metrics& m, const RunConfig& cfg, const std::string& network,
                      const std::vector<std::string>& lc_names, int64_t world_size) {
    const std::string tmp = path + ".tmp";
    try {
        write_metrics_file(tmp, m, cfg, network, lc_names, world_size);
    } catch (const IoError& e) {
        std::remove(tmp.c_str());
        throw IoError(path, e.error_number());
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        std::remove(tmp.c_str());
        throw IoError(path, err);
    }
}

}  // namespace dynshare::trainer
