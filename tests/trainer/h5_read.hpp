// SPDX-License-Identifier: BSD-3-Clause
// Reads one dataset of an HDF5 file as doubles (the trainer tests' metrics.h5
// checks); `dims` receives its shape.
#pragma once
#include <gtest/gtest.h>
#include <hdf5.h>

#include <string>
#include <vector>

namespace dynshare::trainer::testing {

inline std::vector<double> read_h5(const std::string& file, const std::string& name, std::vector<hsize_t>* dims = nullptr) {
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    EXPECT_GE(f, 0);
    hid_t ds = H5Dopen2(f, name.c_str(), H5P_DEFAULT);
    EXPECT_GE(ds, 0) << name;
    hid_t sp = H5Dget_space(ds);
    const int rank = H5Sget_simple_extent_ndims(sp);
    std::vector<hsize_t> d(rank);
    H5Sget_simple_extent_dims(sp, d.data(), nullptr);
    hsize_t n = 1;
    for (auto v : d) n *= v;
    std::vector<double> out(n);
    if (n) H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    if (dims) *dims = d;
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    return out;
}

}  // namespace dynshare::trainer::testing
