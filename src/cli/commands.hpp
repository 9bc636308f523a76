// SPDX-License-Identifier: BSD-3-Clause
// Subcommands of the `dynshare` program; each returns the exit status
// (0 ok, 1 internal error, 2 bad input, 3 run diverged, 130 interrupted).
#pragma once

namespace dynshare::cli {

int cmd_simulate(int argc, char** argv);
int cmd_sweep(int argc, char** argv);
int cmd_merge(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_config(int argc, char** argv);  // the generated reference pages

}  // namespace dynshare::cli
