// SPDX-License-Identifier: BSD-3-Clause
// dynshare-train: the trainer as its own program (the only one that links
// LibTorch). `dynshare train ARGS...` runs it from the directory of the
// dynshare binary with the same ARGS, so both spellings behave alike.
#include <cstdio>
#include <cstdlib>

#include "app/heap_policy.hpp"
#include "io/h5.hpp"
#include "trainer/train_command.hpp"

int main(int argc, char** argv) {
    dynshare::app::keep_freed_memory();  // every sleep phase and iteration reuses the last one's pages
    const int status = dynshare::train_main(argc, argv);
    // HDF5 failed to write or close a file (a full disk): its teardown at exit
    // would crash on that file (io/h5.hpp, h5::broken).
    if (dynshare::h5::broken()) {
        std::fflush(nullptr);
        std::_Exit(status);
    }
    return status;
}
