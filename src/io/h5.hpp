// SPDX-License-Identifier: BSD-3-Clause
// A thin RAII layer over the HDF5 C API: just what dynshare's files need
// (groups, string/number attributes, fixed and extendible datasets).
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/scalar_value.hpp"

namespace dynshare::h5 {

// Root attribute `schema_version` of every file dynshare writes (single and
// stacked runs, sweeps, training metrics); docs/hdf5_layout.txt lists the
// paths of this version.
inline constexpr int64_t kSchemaVersion = 1;

// Owns one hid_t and closes it with the right H5*close.
class Handle {
public:
    Handle() = default;
    Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
    Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
    Handle& operator=(Handle&& o) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }
    void reset();
    // Closes now and returns the closer's status (negative: it failed).
    herr_t close();
    hid_t id() const { return id_; }
    bool valid() const { return id_ >= 0; }

private:
    hid_t id_ = -1;
    herr_t (*closer_)(hid_t) = nullptr;
};

// Throws for a failed HDF5 call (`what` names it): an IoError naming the
// output (the public name of a working copy, io/output_file.hpp) when the
// error stack holds a system error (a full disk, EIO), else an internal
// error. `loc`: any object of the file, for its name when the stack has none.
[[noreturn]] void fail(const std::string& what, hid_t loc = -1);
// True once HDF5 failed to write or close a file. HDF5's teardown at exit
// then crashes on that file (H5F__close_cb, SIGSEGV), so the programs end
// with _Exit instead (exit_status below).
bool broken();
// HDF5's error stack is printed to stderr unless switched off, per thread in
// a thread-safe build: every thread that calls HDF5 calls this first (errors
// become exceptions, not stderr dumps). open_file calls it.
void silence_errors();
// The name of the file of `obj` ("" if none).
std::string file_name(hid_t obj);

enum class Mode { create_exclusive, create_truncate, read_write, read_only };

Handle open_file(const std::string& path, Mode mode);   // throws UserError naming the path
void flush(const Handle& file);
bool exists(hid_t loc, const std::string& path);
Handle group(hid_t loc, const std::string& path);        // opens or creates (with parents)
void remove(hid_t loc, const std::string& path);         // unlinks an object if present
void move(hid_t loc, const std::string& from, const std::string& to);  // renames a link

void set_attr(hid_t obj, const std::string& name, const std::string& value);
void set_attr(hid_t obj, const std::string& name, int64_t value);
void set_attr(hid_t obj, const std::string& name, double value);
void set_attr(hid_t obj, const std::string& name, uint64_t value);  // seeds: the full 64-bit range
// One attribute per config leaf, named by its key path (config_scalars()).
void set_attrs(hid_t obj, const schema::Scalars& leaves);
// dynshare_version and dynshare_commit (include/dynshare/version.hpp): the
// build that wrote the object, on every file's root and every run group.
void set_build_attrs(hid_t obj);
std::string attr_string(hid_t obj, const std::string& name);
int64_t attr_int(hid_t obj, const std::string& name);
uint64_t attr_uint(hid_t obj, const std::string& name);
double attr_double(hid_t obj, const std::string& name);
bool has_attr(hid_t obj, const std::string& name);

// Fixed-size datasets (replaced if present). dims gives the shape.
void write(hid_t loc, const std::string& path, const std::vector<double>& data, std::vector<hsize_t> dims);
void write(hid_t loc, const std::string& path, const std::vector<int64_t>& data, std::vector<hsize_t> dims);
void write_scalar(hid_t loc, const std::string& path, double value);
std::vector<double> read_doubles(hid_t loc, const std::string& path, std::vector<hsize_t>* dims = nullptr);
std::vector<int64_t> read_ints(hid_t loc, const std::string& path, std::vector<hsize_t>* dims = nullptr);

// A dataset that grows along its last axis: shape (rows, n) or (n,) when rows == 0.
class Appendable {
public:
    Appendable() = default;
    static Appendable create(hid_t loc, const std::string& path, hid_t type, hsize_t rows);
    static Appendable open(hid_t loc, const std::string& path, hid_t type);
    void append(const void* column);   // rows values (or one for 1D)
    // `count` entries at once; data is (rows, count) row-major (or count values for 1D).
    void append_many(const void* data, hsize_t count);
    void truncate(hsize_t n);          // keep the first n entries
    hsize_t size() const { return n_; }

private:
    Handle ds_;
    hid_t type_ = -1;
    hsize_t rows_ = 0, n_ = 0;
};

}  // namespace dynshare::h5
