// SPDX-License-Identifier: BSD-3-Clause
// One key of a config's reference (dynshare config --reference): what the
// schema knows of it (schema::describe in io/schema.hpp).
#pragma once
#include <string>

namespace dynshare::schema {

struct KeyDoc {
    std::string path;           // "dynamics.alpha"; list items "stack.layers[].kernel"
    std::string type;           // bool, integer, unsigned integer, number, string, enum, list of ...
    std::string default_value;  // as the config writer writes it
    std::string allowed;        // enums and custom leaves: the allowed values
};

}  // namespace dynshare::schema
