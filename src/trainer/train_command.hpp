// SPDX-License-Identifier: BSD-3-Clause
// `dynshare train CONFIG -o RUN_DIR [--set key=value]... [--resume] [--overwrite] [--device cpu|cuda]`
// The main of dynshare-train (argv[0] is the program; arguments from argv[1]).
// Returns the exit status: 0 success, 2 user error (one line on stderr,
// "dynshare train: error: ..."), 1 any other failure ("dynshare train:
// internal error: ...").
#pragma once

namespace dynshare {
int train_main(int argc, char** argv);
}  // namespace dynshare
