// SPDX-License-Identifier: BSD-3-Clause
// The meaning and the range of every config key of both programs, in one
// table keyed by the schema's key paths (src/io/key_descriptions.cpp). The
// schema (visit() in io/config_schema.hpp and trainer/train_config.cpp) gives
// each key's type, default and enum values; this table adds what a reader
// needs to use it. `dynshare config --reference` joins the two; tests fail
// when a schema key has no entry, an entry names no key, or a stated range
// is not the one the validation enforces (tests/test_config_reference.cpp).
#pragma once
#include <string>
#include <vector>

namespace dynshare {

struct KeyText {
    const char* path;     // the schema's key path ("stack.layers[].kernel")
    // What the validation accepts, in one of the forms the test checks:
    // "" (any value of the type), ">= a", "> a", "[a, b]", "[a, b)",
    // "one of x, y" (strings checked by the validation, not enums).
    const char* range;
    const char* meaning;  // one line
};

// Every entry, simulator keys first, then the trainer's.
const std::vector<KeyText>& key_texts();

// The entry for `path`; a trainer key sleep.X without an entry of its own
// takes the simulator's X (the sleep phase uses the simulator's sections and
// validation). nullptr when there is none.
const KeyText* key_text(const std::string& path);

}  // namespace dynshare
