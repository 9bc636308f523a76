// SPDX-License-Identifier: BSD-3-Clause
// libFuzzer target: the set parser (fuzz/harness.hpp says what is checked).
#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    dynshare::fuzz::set_input(data, size);
    return 0;
}
