// SPDX-License-Identifier: BSD-3-Clause
#include "io/h5.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "dynshare/errors.hpp"
#include "dynshare/version.hpp"
#include "io/io_error.hpp"
#include "io/output_file.hpp"

namespace dynshare::h5 {

namespace {
// Set once HDF5 failed to write or close a file: its state for that file is
// then broken, and its own teardown at exit would crash on it.
std::atomic<bool> g_broken{false};

// What the error stack says about the system's part of a failure: the file
// drivers put "errno = N" and "filename = '...'" into their messages.
struct SystemCause {
    int err = 0;
    std::string file;
};
herr_t find_cause(unsigned, const H5E_error2_t* e, void* data) {
    auto* c = static_cast<SystemCause*>(data);
    if (!e || !e->desc) return 0;
    const std::string d = e->desc;
    const size_t p = d.find("errno = ");
    if (p != std::string::npos && c->err == 0) c->err = std::atoi(d.c_str() + p + 8);
    const size_t q = d.find("filename = '");
    if (q != std::string::npos && c->file.empty()) {
        const size_t end = d.find('\'', q + 12);
        if (end != std::string::npos) c->file = d.substr(q + 12, end - q - 12);
    }
    return 0;
}
void check(herr_t status, const std::string& what, hid_t loc = -1) {
    if (status < 0) fail(what, loc);
}
hid_t checked(hid_t id, const std::string& what, hid_t loc = -1) {
    if (id < 0) fail(what, loc);
    return id;
}
std::vector<hsize_t> shape_of(hid_t ds) {
    Handle space(H5Dget_space(ds), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.id());
    std::vector<hsize_t> dims(rank > 0 ? rank : 0);
    if (rank > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
    return dims;
}
template <class T>
void write_impl(hid_t loc, const std::string& path, const std::vector<T>& data, std::vector<hsize_t> dims,
                hid_t type) {
    if (exists(loc, path)) check(H5Ldelete(loc, path.c_str(), H5P_DEFAULT), "delete " + path);
    const auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) group(loc, path.substr(0, slash));
    Handle space(checked(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "space"), H5Sclose);
    Handle ds(checked(H5Dcreate2(loc, path.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      "create " + path),
              H5Dclose);
    if (!data.empty()) check(H5Dwrite(ds.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), "write " + path);
}
template <class T>
std::vector<T> read_impl(hid_t loc, const std::string& path, std::vector<hsize_t>* dims, hid_t type) {
    if (!exists(loc, path)) throw UserError("dataset '" + path + "' is missing");
    Handle ds(checked(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), "open " + path), H5Dclose);
    const auto shape = shape_of(ds.id());
    hsize_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<T> out(n);
    if (n > 0) check(H5Dread(ds.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read " + path);
    if (dims) *dims = shape;
    return out;
}
}  // namespace

std::string file_name(hid_t obj) {
    if (obj < 0) return "";
    const ssize_t n = H5Fget_name(obj, nullptr, 0);
    if (n <= 0) return "";
    std::string name(size_t(n) + 1, '\0');
    H5Fget_name(obj, name.data(), name.size());
    name.resize(size_t(n));
    return name;
}

void fail(const std::string& what, hid_t loc) {
    SystemCause cause;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, find_cause, &cause);
    H5Eclear2(H5E_DEFAULT);
    if (cause.err == 0) throw std::runtime_error("HDF5: " + what);
    g_broken = true;
    const std::string file = cause.file.empty() ? file_name(loc) : cause.file;
    throw IoError(public_name(file.empty() ? std::string("the output") : file), cause.err);
}

bool broken() { return g_broken.load(); }

Handle& Handle::operator=(Handle&& o) noexcept {
    if (this != &o) {
        reset();
        id_ = o.id_;
        closer_ = o.closer_;
        o.id_ = -1;
    }
    return *this;
}

void Handle::reset() { close(); }  // a destructor's close: its status has no one to go to

herr_t Handle::close() {
    const herr_t status = id_ >= 0 && closer_ ? closer_(id_) : 0;
    if (status < 0 && closer_ == H5Fclose) g_broken = true;  // the file stays open inside HDF5
    id_ = -1;
    return status;
}

void silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle open_file(const std::string& path, Mode mode) {
    silence_errors();  // errors become our exceptions, not stderr dumps
    hid_t id = -1;
    switch (mode) {
        case Mode::create_exclusive: id = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT); break;
        case Mode::create_truncate: id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT); break;
        case Mode::read_write: id = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT); break;
        case Mode::read_only: id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT); break;
    }
    if (id < 0) {
        const bool present = std::filesystem::exists(path);
        if (mode == Mode::create_exclusive && present)
            throw UserError("output file '" + path + "' exists; pass --overwrite to replace it");
        if (!present && (mode == Mode::read_only || mode == Mode::read_write))
            throw UserError("cannot open '" + path + "': no such file");
        throw UserError("cannot open '" + path + "' as an HDF5 file" +
                        (mode == Mode::read_only || mode == Mode::read_write ? "" : " for writing"));
    }
    return Handle(id, H5Fclose);
}

void flush(const Handle& file) { check(H5Fflush(file.id(), H5F_SCOPE_GLOBAL), "flush", file.id()); }

bool exists(hid_t loc, const std::string& path) {
    // Check each component so that a missing parent is "false", not an error.
    std::string partial;
    size_t pos = 0;
    while (pos != std::string::npos) {
        const size_t next = path.find('/', pos + 1);
        partial = path.substr(0, next);
        if (!partial.empty() && partial != "/" && H5Lexists(loc, partial.c_str(), H5P_DEFAULT) <= 0) return false;
        pos = next;
    }
    return true;
}

Handle group(hid_t loc, const std::string& path) {
    if (exists(loc, path)) return Handle(checked(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), "open " + path), H5Gclose);
    Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.id(), 1);
    return Handle(checked(H5Gcreate2(loc, path.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT), "create " + path),
                  H5Gclose);
}

bool has_attr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

namespace {
void set_attr_raw(hid_t obj, const std::string& name, hid_t type, const void* value) {
    if (has_attr(obj, name)) H5Adelete(obj, name.c_str());
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle a(checked(H5Acreate2(obj, name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT), "attr " + name),
             H5Aclose);
    check(H5Awrite(a.id(), type, value), "write attr " + name);
}
}  // namespace

void set_attr(hid_t obj, const std::string& name, const std::string& value) {
    // Variable-length UTF-8 string: h5py reads it as a Python str.
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.id(), H5T_VARIABLE);
    H5Tset_cset(type.id(), H5T_CSET_UTF8);
    const char* p = value.c_str();
    set_attr_raw(obj, name, type.id(), &p);
}
void set_attr(hid_t obj, const std::string& name, int64_t value) { set_attr_raw(obj, name, H5T_NATIVE_INT64, &value); }
void set_attr(hid_t obj, const std::string& name, double value) { set_attr_raw(obj, name, H5T_NATIVE_DOUBLE, &value); }
void set_attr(hid_t obj, const std::string& name, uint64_t value) { set_attr_raw(obj, name, H5T_NATIVE_UINT64, &value); }

void set_build_attrs(hid_t obj) {
    set_attr(obj, "dynshare_version", std::string(version()));
    set_attr(obj, "dynshare_commit", std::string(commit()));
}

void set_attrs(hid_t obj, const schema::Scalars& leaves) {
    for (const auto& [name, v] : leaves) {
        switch (v.kind) {
            case schema::ScalarValue::integer: set_attr(obj, name, v.i); break;
            case schema::ScalarValue::unsigned_integer: set_attr(obj, name, v.u); break;
            case schema::ScalarValue::real: set_attr(obj, name, v.d); break;
            case schema::ScalarValue::text: set_attr(obj, name, v.s); break;
        }
    }
}

namespace {
// The attribute `name` of `obj`, opened, when it holds one number: a missing
// attribute, a string or an array is the file's fault, a UserError naming
// the file (a hand-edited file must not become an internal error).
Handle numeric_attr(hid_t obj, const std::string& name) {
    const auto bad = [&](const std::string& why) {
        return UserError(public_name(file_name(obj)) + ": attribute '" + name + "' " + why);
    };
    if (!has_attr(obj, name)) throw bad("is missing");
    Handle a(checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attr " + name), H5Aclose);
    Handle type(H5Aget_type(a.id()), H5Tclose);
    const H5T_class_t c = H5Tget_class(type.id());
    if (c != H5T_INTEGER && c != H5T_FLOAT) throw bad("is not a number (wrong type)");
    Handle space(H5Aget_space(a.id()), H5Sclose);
    if (H5Sget_simple_extent_npoints(space.id()) != 1) throw bad("is not one number (an array)");
    return a;
}
}  // namespace

std::string attr_string(hid_t obj, const std::string& name) {
    if (!has_attr(obj, name)) throw UserError("attribute '" + name + "' is missing");
    Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
    Handle ftype(H5Aget_type(a.id()), H5Tclose);
    if (H5Tget_class(ftype.id()) != H5T_STRING)
        throw UserError(public_name(file_name(obj)) + ": attribute '" + name + "' is not a string (wrong type)");
    if (H5Tis_variable_str(ftype.id()) > 0) {
        Handle mtype(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(mtype.id(), H5T_VARIABLE);
        H5Tset_cset(mtype.id(), H5Tget_cset(ftype.id()));
        char* p = nullptr;
        check(H5Aread(a.id(), mtype.id(), &p), "read attr " + name);
        std::string out = p ? p : "";
        H5free_memory(p);
        return out;
    }
    const size_t n = H5Tget_size(ftype.id());
    std::string out(n, '\0');
    check(H5Aread(a.id(), ftype.id(), out.data()), "read attr " + name);
    return out.substr(0, std::strlen(out.c_str()));
}

int64_t attr_int(hid_t obj, const std::string& name) {
    Handle a = numeric_attr(obj, name);
    int64_t v = 0;
    check(H5Aread(a.id(), H5T_NATIVE_INT64, &v), "read attr " + name);
    return v;
}

uint64_t attr_uint(hid_t obj, const std::string& name) {
    Handle a = numeric_attr(obj, name);
    uint64_t v = 0;
    check(H5Aread(a.id(), H5T_NATIVE_UINT64, &v), "read attr " + name);
    return v;
}

double attr_double(hid_t obj, const std::string& name) {
    Handle a = numeric_attr(obj, name);
    double v = 0;
    check(H5Aread(a.id(), H5T_NATIVE_DOUBLE, &v), "read attr " + name);
    return v;
}

void remove(hid_t loc, const std::string& path) {
    if (exists(loc, path)) check(H5Ldelete(loc, path.c_str(), H5P_DEFAULT), "delete " + path);
}
void move(hid_t loc, const std::string& from, const std::string& to) {
    check(H5Lmove(loc, from.c_str(), loc, to.c_str(), H5P_DEFAULT, H5P_DEFAULT), "rename " + from + " to " + to);
}

void write(hid_t loc, const std::string& path, const std::vector<double>& data, std::vector<hsize_t> dims) {
    write_impl(loc, path, data, std::move(dims), H5T_NATIVE_DOUBLE);
}
void write(hid_t loc, const std::string& path, const std::vector<int64_t>& data, std::vector<hsize_t> dims) {
    write_impl(loc, path, data, std::move(dims), H5T_NATIVE_INT64);
}
void write_scalar(hid_t loc, const std::string& path, double value) {
    write_impl(loc, path, std::vector<double>{value}, {}, H5T_NATIVE_DOUBLE);
}
std::vector<double> read_doubles(hid_t loc, const std::string& path, std::vector<hsize_t>* dims) {
    return read_impl<double>(loc, path, dims, H5T_NATIVE_DOUBLE);
}
std::vector<int64_t> read_ints(hid_t loc, const std::string& path, std::vector<hsize_t>* dims) {
    return read_impl<int64_t>(loc, path, dims, H5T_NATIVE_INT64);
}

Appendable Appendable::create(hid_t loc, const std::string& path, hid_t type, hsize_t rows) {
    Appendable a;
    a.type_ = type;
    a.rows_ = rows;
    const int rank = rows == 0 ? 1 : 2;
    hsize_t dims[2] = {rows, 0}, maxdims[2] = {rows, H5S_UNLIMITED}, chunk[2] = {rows, 1024};
    if (rank == 1) {
        dims[0] = 0;
        maxdims[0] = H5S_UNLIMITED;
        chunk[0] = 1024;
    } else {
        chunk[1] = std::max<hsize_t>(1, 4096 / rows);
    }
    const auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) group(loc, path.substr(0, slash));
    Handle space(H5Screate_simple(rank, dims, maxdims), H5Sclose);
    Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_chunk(dcpl.id(), rank, chunk);
    a.ds_ = Handle(checked(H5Dcreate2(loc, path.c_str(), type, space.id(), H5P_DEFAULT, dcpl.id(), H5P_DEFAULT),
                           "create " + path),
                   H5Dclose);
    return a;
}

Appendable Appendable::open(hid_t loc, const std::string& path, hid_t type) {
    Appendable a;
    a.type_ = type;
    a.ds_ = Handle(checked(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), "open " + path), H5Dclose);
    const auto dims = shape_of(a.ds_.id());
    a.rows_ = dims.size() == 2 ? dims[0] : 0;
    a.n_ = dims.back();
    return a;
}

void Appendable::append(const void* column) { append_many(column, 1); }

void Appendable::append_many(const void* data, hsize_t count) {
    if (count == 0) return;
    const int rank = rows_ == 0 ? 1 : 2;
    hsize_t newdims[2] = {rows_, n_ + count};
    hsize_t start[2] = {0, n_}, block[2] = {rows_, count};
    if (rank == 1) {
        newdims[0] = n_ + count;
        start[0] = n_;
        block[0] = count;
    }
    check(H5Dset_extent(ds_.id(), newdims), "extend");
    Handle fspace(H5Dget_space(ds_.id()), H5Sclose);
    H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, start, nullptr, block, nullptr);
    Handle mspace(H5Screate_simple(rank, block, nullptr), H5Sclose);
    check(H5Dwrite(ds_.id(), type_, mspace.id(), fspace.id(), H5P_DEFAULT, data), "append");
    n_ += count;
}

void Appendable::truncate(hsize_t n) {
    hsize_t newdims[2] = {rows_, n};
    if (rows_ == 0) newdims[0] = n;
    check(H5Dset_extent(ds_.id(), newdims), "truncate");
    n_ = n;
}

}  // namespace dynshare::h5
