// `dynshare train CONFIG -o RUN_DIR [--set key=value]... [--resume] [--overwrite]`
// Called by the CLI with argv[0] == "train". Returns the exit status:
// 0 success, 2 user error (one line on stderr, prefixed "dynshare train: "),
// 1 any other failure.
#pragma once

namespace dynshare {
int train_main(int argc, char** argv);
}  // namespace dynshare
