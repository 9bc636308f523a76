// SPDX-License-Identifier: BSD-3-Clause
// One scalar leaf of a config (schema.hpp's for_each_scalar), as it is
// written as an HDF5 attribute under its full key path: integers (bools as
// 0/1) as int64, unsigned integers (seeds) as uint64, floating-point keys as
// float64, enums and strings as variable-length UTF-8 text.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dynshare::schema {

struct ScalarValue {
    enum Kind { integer, unsigned_integer, real, text } kind = integer;
    int64_t i = 0;
    uint64_t u = 0;
    double d = 0;
    std::string s;
};

using Scalars = std::vector<std::pair<std::string, ScalarValue>>;

}  // namespace dynshare::schema
